"""The homu backend service: a small FastAPI app on PostgreSQL/PostGIS and Redis.

Run it with ``python -m app`` (the image's command). The package imports nothing heavy here so that
``python -m app.healthcheck`` stays a standard-library-only probe.
"""
