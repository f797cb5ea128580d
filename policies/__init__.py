"""The project's own checkov policies (loaded with --external-checks-dir policies)."""
