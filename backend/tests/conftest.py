"""Fixtures for the backend tests: real servers, and the app run as a uvicorn subprocess.

Run from the repository root: ``.venv/bin/python -m pytest backend/tests -q``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

# The service's own package, ``app``, is importable through pytest's ``pythonpath`` (pyproject.toml).
from app.contract import load_contract
from servers import Blackhole, PostgresServer, RedisServer, ServerUnavailable, free_port

BACKEND = Path(__file__).resolve().parent.parent  # where uvicorn runs the service, as its Dockerfile does

# Credentials with every character that needs percent-encoding in a URL, so the joining is exercised.
DB_USER = "app"
DB_NAME = "appdb"
DB_PASSWORD = "pg p@ss:w/rd#?%&=+'é"
REDIS_DEFAULT_PASSWORD = "r3d!s t0k@n:/#?%&="  # the default user's, as local development uses it
REDIS_IAM_USER = "homu-backend"  # an ACL user that takes any password, standing in for ElastiCache IAM
REDIS_IAM_CACHE = "homu-redis"
SECRET_KEY = "k" * 40
STARTUP_TIMEOUT = 30.0
AWS_REGION = "ap-northeast-2"
# Dummy credentials, and nothing else for botocore to find: no ~/.aws files, no metadata endpoint.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDTESTBACKEND0001",
    "AWS_SECRET_ACCESS_KEY": "dummy-secret-access-key-for-the-backend-tests",
    "AWS_REGION": AWS_REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="backend-tests-"))
    os.chmod(path, 0o755)  # the postgres user must reach its directory inside
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_files(workdir):
    from servers import make_certificate

    try:
        return make_certificate(workdir)
    except ServerUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres(workdir, tls_files):
    base = workdir / "pg"
    base.mkdir()
    try:
        server = PostgresServer(base, *tls_files)
    except ServerUnavailable as exc:
        pytest.fail(str(exc))
    try:
        server.initdb()
        server.start()
        escaped = DB_PASSWORD.replace("'", "''")
        # SUPERUSER as the RDS master user (rds_superuser) can CREATE EXTENSION postgis.
        server.psql(f"CREATE ROLE {DB_USER} LOGIN SUPERUSER PASSWORD '{escaped}'")
        server.psql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.kill()


@pytest.fixture(scope="session")
def redis_server(workdir, tls_files):
    base = workdir / "redis"
    base.mkdir()
    try:
        server = RedisServer(base, *tls_files, password=REDIS_DEFAULT_PASSWORD, iam_user=REDIS_IAM_USER)
    except ServerUnavailable as exc:
        pytest.fail(str(exc))
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.kill()


@pytest.fixture(autouse=True)
def _servers_restored(request):
    """After each test, a server a test stopped or froze is running again for the next one."""
    yield
    for name in ("postgres", "redis_server"):
        if name in request.fixturenames:
            server = request.getfixturevalue(name)
            if server.paused:
                server.resume()
            if not server.running:
                server.start()


def database_url(server: PostgresServer, database: str = DB_NAME, ssl: str = "require") -> str:
    return f"postgresql+asyncpg://{DB_USER}@{server.host}:{server.port}/{database}?ssl={ssl}"


def redis_tls_url(server: RedisServer, cert: Path, password: str = REDIS_DEFAULT_PASSWORD) -> str:
    """Local development's form: the default user's password in the URL, percent-encoded."""
    return (
        f"rediss://:{quote(password, safe='')}@{server.host}:{server.tls_port}/0"
        f"?ssl_ca_certs={quote(str(cert))}"
    )


def redis_iam_url(server: RedisServer, cert: Path) -> str:
    """The infrastructure's form for ElastiCache IAM: the user id, no password."""
    return f"rediss://{REDIS_IAM_USER}@{server.host}:{server.tls_port}/0?ssl_ca_certs={quote(str(cert))}"


def app_env(**variables: str) -> dict[str, str]:
    """A clean environment for the service: the parent's variables minus the contract's and AWS's."""
    contract = load_contract()
    names = contract.variables | contract.local | contract.init.variables
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("AWS_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env.update(variables)
    return env


class AppProcess:
    """``python -m app`` (the image's command) on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path, wrapper: list[str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    *(wrapper or []),
                    sys.executable,
                    "-m",
                    "app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=BACKEND,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.client = httpx.Client(base_url=self.base_url, timeout=5.0)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.client.get("/api/v1/openapi.json", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"the app did not listen within {timeout:g}s:\n{self.log()}")

    def get_health(self, timeout: float = 5.0) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = self.client.get("/health", timeout=timeout)
        return response, time.monotonic() - started

    def wait_health(self, status: int, timeout: float = 20.0) -> httpx.Response:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last, _ = self.get_health()
                if last.status_code == status:
                    return last
            except httpx.TransportError as exc:
                last = exc
            time.sleep(0.1)
        raise AssertionError(
            f"/health did not become {status} within {timeout:g}s; last: "
            f"{getattr(last, 'text', last)}\n{self.log()[-3000:]}"
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def start_app(workdir):
    """Factory: start the app with the given environment; every app started is stopped afterwards."""
    started: list[AppProcess] = []

    def start(env: dict[str, str], wait: bool = True, wrapper: list[str] | None = None) -> AppProcess:
        process = AppProcess(env, workdir / f"app-{len(started)}-{free_port()}.log", wrapper)
        started.append(process)
        if wait:
            process.wait_listening()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="module")
def live_app(postgres, redis_server, tls_files, workdir):
    """The service against both servers over TLS: the database password joined from its variable,
    the Redis password in the URL (local development's form)."""
    env = app_env(
        DATABASE_URL=database_url(postgres),
        DATABASE_PASSWORD=DB_PASSWORD,
        REDIS_URL=redis_tls_url(redis_server, tls_files[0]),
        SECRET_KEY=SECRET_KEY,
    )
    process = AppProcess(env, workdir / "live-app.log")
    try:
        process.wait_listening()
        process.wait_health(200, timeout=STARTUP_TIMEOUT)
        yield process
    finally:
        process.stop()


@pytest.fixture
def blackhole():
    holes: list[Blackhole] = []

    def make() -> Blackhole:
        holes.append(Blackhole())
        return holes[-1]

    try:
        yield make
    finally:
        for hole in holes:
            hole.close()
