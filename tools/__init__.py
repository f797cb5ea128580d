"""The project's tools, each run with ``python -m tools.<name>``.

Importing this package imports nothing else: ``tools.bootstrap`` runs on the bare system Python.
"""
