"""Connections to PostgreSQL (asyncpg pool) and Redis (redis-py asyncio), and their health checks.

Nothing here connects at construction: the pool starts empty (``min_size=0``) and Redis connects on
first use, so the service starts while a dependency is down and catches up when it returns. A
connection that fails or times out is closed at once rather than returned to the pool, so an outage
leaves no broken pool behind: the next use opens a fresh connection.

Health checks are bounded: each runs in its own task and the caller waits at most ``timeout``
seconds; a check that overruns is cancelled in the background and reported as ``timeout``, so a
dependency that hangs (accepts and never answers) cannot hold the health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import asyncpg
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.aws import ElastiCacheIAMProvider, RdsIamToken
from app.config import Settings

log = logging.getLogger("app.resources")
T = TypeVar("T")

APPLICATION_NAME = "homu-backend"
CHECK_TIMEOUT = 0.5  # seconds per dependency; the checks run concurrently
POOL_MAX_SIZE = 10
BOOTSTRAP_MAX_DELAY = 30.0
POSTGIS_VERSION_SQL = "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'postgis'"

# Errors after which a pooled connection is not worth keeping: the server went away or restarted.
_CONNECTION_LOST = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
    OSError,
)


class CheckTimeout(Exception):
    """A bounded operation did not finish in time."""


_abandoned: set[asyncio.Task[Any]] = set()


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieve it, so asyncio does not log "exception was never retrieved"


async def bounded(awaitable: Awaitable[T], timeout: float) -> T:
    """Await at most ``timeout`` seconds; on overrun cancel the work without waiting for it to unwind.

    ``asyncio.wait_for`` waits until the cancelled work has finished cleaning up, which a hung peer
    can delay; here the caller gets its answer on time and the clean-up finishes on its own.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        raise
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        raise CheckTimeout(f"no answer within {timeout:g}s")
    return task.result()


def describe(exc: BaseException) -> str:
    """A short, secret-free state for a failed check."""
    if isinstance(exc, (CheckTimeout, asyncio.TimeoutError, TimeoutError, aioredis.TimeoutError)):
        return "timeout"
    # before the connection errors: redis-py's AuthenticationError is a ConnectionError
    if isinstance(
        exc,
        (
            asyncpg.exceptions.InvalidPasswordError,
            asyncpg.exceptions.InvalidAuthorizationSpecificationError,
            aioredis.AuthenticationError,
        ),
    ):
        return "authentication failed"
    if isinstance(exc, (aioredis.ConnectionError, *_CONNECTION_LOST)):
        return "unreachable"
    return f"error: {type(exc).__name__}"


class Resources:
    """The service's connections, owned by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.redis = aioredis.from_url(
            settings.redis_url,
            socket_timeout=5.0,
            socket_connect_timeout=5.0,
            # One immediate retry on a fresh connection: after a Redis restart the first use of a
            # pooled socket fails and the retry reconnects.
            retry=Retry(NoBackoff(), 1),
            client_name=APPLICATION_NAME,
            # ElastiCache IAM: each new connection signs in with a freshly signed token.
            credential_provider=ElastiCacheIAMProvider(settings.redis_iam) if settings.redis_iam else None,
        )
        self.postgis_version: str | None = None
        self._bootstrap: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # min_size=0: no connection is made here, so start-up does not depend on the database.
        self.pool = await asyncpg.create_pool(
            self.settings.database_dsn,
            min_size=0,
            max_size=POOL_MAX_SIZE,
            max_inactive_connection_lifetime=60.0,
            timeout=10.0,  # connect timeout
            command_timeout=30.0,
            server_settings={"application_name": APPLICATION_NAME},
            # RDS IAM: each new connection signs in with a freshly signed token (None: the DSN's password).
            password=RdsIamToken(self.settings.database_iam) if self.settings.database_iam else None,
        )
        self.ensure_bootstrap()

    async def close(self) -> None:
        if self._bootstrap is not None:
            self._bootstrap.cancel()
            await asyncio.gather(self._bootstrap, return_exceptions=True)
        for task in list(_abandoned):
            task.cancel()
        if _abandoned:
            await asyncio.wait(list(_abandoned), timeout=1.0)
        if self.pool is not None:
            self.pool.terminate()
        await self.redis.aclose()

    # --- PostGIS ------------------------------------------------------------------------------------

    def ensure_bootstrap(self) -> None:
        """Start the PostGIS set-up in the background unless it is running or has succeeded."""
        if self._bootstrap is None or self._bootstrap.done():
            self._bootstrap = asyncio.get_running_loop().create_task(
                self._bootstrap_postgis(), name="postgis"
            )

    async def _bootstrap_postgis(self) -> None:
        """CREATE EXTENSION postgis, retried with capped exponential backoff until it works.

        Two tasks starting together may race on CREATE EXTENSION (a unique violation); the retry
        then finds the extension in place.
        """
        delay = 0.5
        while True:
            try:
                version = await self._with_connection(self._create_postgis, timeout=60.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is retried and logged in one line
                log.warning(
                    "PostGIS set-up failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BOOTSTRAP_MAX_DELAY)
                continue
            self.postgis_version = version
            log.info("PostGIS %s ready on %s", version, self.settings.database_target)
            return

    @staticmethod
    async def _create_postgis(conn: asyncpg.Connection) -> str:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return await conn.fetchval(POSTGIS_VERSION_SQL)

    async def _with_connection(self, work, timeout: float):
        """Run ``work(conn)`` on a pooled connection; a connection that fails is closed, not reused.

        If the first attempt finds a connection the server has dropped (a restart), it is retried
        once on a fresh connection.
        """
        assert self.pool is not None, "start() first"
        for attempt in (1, 2):
            conn = await self.pool.acquire(timeout=timeout)
            try:
                return await work(conn)
            except BaseException as exc:
                # Synchronous: never waits on a peer that may hang. A connection the server closed
                # has already left its proxy (asyncpg detaches it), which refuses every call then.
                with contextlib.suppress(asyncpg.InterfaceError):
                    conn.terminate()
                if attempt == 1 and isinstance(exc, _CONNECTION_LOST) and not isinstance(exc, OSError):
                    continue
                raise
            finally:
                await self.pool.release(conn)
        raise AssertionError("unreachable")

    # --- health -------------------------------------------------------------------------------------

    async def check_postgres(self) -> str | None:
        """The installed PostGIS version (None if not installed); raises if the database fails."""
        return await self._with_connection(
            lambda conn: conn.fetchval(POSTGIS_VERSION_SQL), timeout=CHECK_TIMEOUT
        )

    async def check_redis(self) -> None:
        if not await self.redis.ping():
            raise RuntimeError("PING was not answered with PONG")

    async def health(self, timeout: float = CHECK_TIMEOUT) -> tuple[bool, dict[str, Any]]:
        """Check both dependencies concurrently, each bounded by ``timeout``."""
        pg, rd = await asyncio.gather(
            bounded(self.check_postgres(), timeout),
            bounded(self.check_redis(), timeout),
            return_exceptions=True,
        )
        body: dict[str, Any] = {}
        failing: list[str] = []
        if isinstance(pg, BaseException):
            body["postgres"], body["postgis"] = describe(pg), "unknown"
            failing.append("postgres")
        else:
            body["postgres"] = "ok"
            if pg is None:
                body["postgis"] = "missing"
                failing.append("postgis")
                self.ensure_bootstrap()  # e.g. the database was replaced: set it up again
            else:
                body["postgis"] = self.postgis_version = pg
        if isinstance(rd, BaseException):
            body["redis"] = describe(rd)
            failing.append("redis")
        else:
            body["redis"] = "ok"
        if failing:
            return False, {"status": "unavailable", "failing": failing, **body}
        return True, {"status": "ok", **body}
