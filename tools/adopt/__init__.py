"""Take over a deployment built by hand (the guide's): ``python -m tools.adopt`` (docs/adopting.md)."""
