"""Drift: what changed in the account outside Terraform, apart from what the code changed (``python -m tools.drift``)."""
