"""The FastAPI application: ``create_app(settings)`` builds it from checked settings.

Routes: the health path from contract.json (``/health``) at the root, and the versioned API under
``API_V1_STR`` (``/api/v1``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from app.config import Settings
from app.resources import CHECK_TIMEOUT, Resources, bounded, describe

SERVICE_NAME = "homu-backend"
VERSION = "1.0.0"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources(settings)
        await resources.start()  # makes no connection: a database that is down does not stop start-up
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.close()

    app = FastAPI(
        title=SERVICE_NAME,
        version=VERSION,
        lifespan=lifespan,
        openapi_url=f"{settings.api_v1_str}/openapi.json",
        docs_url=f"{settings.api_v1_str}/docs",
        redoc_url=None,
    )

    @app.get(settings.health_path, tags=["health"])
    async def health(request: Request) -> JSONResponse:
        """200 when PostgreSQL (with PostGIS) and Redis both answer, else 503 naming the failing one."""
        ok, body = await request.app.state.resources.health()
        return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    api = APIRouter(prefix=settings.api_v1_str)

    @api.get("/", tags=["meta"])
    async def index(request: Request) -> JSONResponse:
        """Service name, version and the PostGIS version the database reports now."""
        resources: Resources = request.app.state.resources
        body = {"service": SERVICE_NAME, "version": VERSION, "api": settings.api_v1_str}
        try:
            postgis = await bounded(resources.check_postgres(), CHECK_TIMEOUT * 4)
        except Exception as exc:  # noqa: BLE001 - reported to the client as the database's state
            return JSONResponse({**body, "postgis": None, "database": describe(exc)}, status_code=503)
        return JSONResponse({**body, "postgis": postgis, "database": "ok"})

    app.include_router(api)
    return app
