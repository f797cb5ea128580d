"""The running service against real PostgreSQL/PostGIS and Redis servers, through outages and hangs.

One app process (``live_app``) stays up through the whole module: every recovery below happens
without restarting it. Each outage test leaves the servers running again (``_servers_restored``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from app.contract import load_contract
from conftest import (
    BACKEND,
    DB_NAME,
    DB_PASSWORD,
    REDIS_DEFAULT_PASSWORD,
    SECRET_KEY,
    app_env,
    database_url,
    redis_tls_url,
)
from servers import free_port

ANSWER_WITHIN = 1.0  # seconds: the health endpoint's promise, even when a dependency hangs
VERSION = re.compile(r"^3\.\d+\.\d+")


def assert_unhealthy(
    response: httpx.Response, elapsed: float, failing: str, state: str | None = None
) -> dict:
    assert elapsed < ANSWER_WITHIN, f"/health took {elapsed:.3f}s"
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == [failing], body
    assert body[failing] != "ok"
    if state is not None:
        assert body[failing] == state, body
    return body


def test_health_ok_reports_postgis(live_app, postgres):
    response, elapsed = live_app.get_health()
    assert response.status_code == 200, response.text
    assert elapsed < ANSWER_WITHIN
    body = response.json()
    installed = postgres.psql(
        "SELECT extversion FROM pg_extension WHERE extname = 'postgis'", database=DB_NAME
    )
    assert VERSION.match(installed), installed  # the app created the extension at start-up
    assert body == {"status": "ok", "postgres": "ok", "redis": "ok", "postgis": installed}
    assert response.headers["cache-control"] == "no-store"


def test_health_path_and_port_come_from_the_contract(live_app):
    contract = load_contract()
    assert live_app.client.get(contract.health_path).status_code == 200
    # The default port (used in the image) is the contract's: ``--help`` shows it.
    out = subprocess.run(
        [sys.executable, "-m", "app", "--help"],
        cwd=BACKEND,
        capture_output=True,
        text=True,
        env=app_env(),
        timeout=30,
        check=False,
    )
    assert out.returncode == 0
    assert f"default {contract.port}" in out.stdout


def test_api_index_under_prefix_reports_postgis(live_app, postgres):
    prefix = load_contract().api_v1_str
    response = live_app.client.get(f"{prefix}/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["postgis"] == postgres.psql("SELECT postgis_lib_version()", database=DB_NAME)
    assert body["database"] == "ok" and body["api"] == prefix
    assert live_app.client.get(f"{prefix}/openapi.json").status_code == 200
    assert live_app.client.get("/").status_code == 404  # nothing outside the prefix but /health


def test_connections_use_tls_and_passwords(live_app, postgres, redis_server):
    """The app reached PostgreSQL over TLS as ``app`` with DATABASE_PASSWORD, and Redis over TLS as
    the default user with the password in REDIS_URL."""
    assert live_app.get_health()[0].status_code == 200
    rows = postgres.psql(
        "SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
        "WHERE a.application_name = 'homu-backend'"
    ).splitlines()
    assert rows, "no connection from the app"
    assert all(row == "app|t" for row in rows), rows  # TLS on every one
    clients = [
        c
        for c in redis_server.client().client_list()
        if c.get("name") == "homu-backend" and c["user"] == "default"
    ]
    assert clients, "no Redis connection named homu-backend signed in as the default user"
    assert all(c["laddr"].endswith(f":{redis_server.tls_port}") for c in clients), clients  # the TLS port


def run_probe(port: int) -> subprocess.CompletedProcess:
    """The container's health probe (python -m app.healthcheck), as Docker and ECS run it."""
    return subprocess.run(
        [sys.executable, "-m", "app.healthcheck", str(port)],
        cwd=BACKEND,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_postgres_stopped_then_restarted(live_app, postgres):
    assert live_app.get_health()[0].status_code == 200
    postgres.stop()
    response, elapsed = live_app.get_health()
    body = assert_unhealthy(response, elapsed, "postgres", "unreachable")
    assert body["redis"] == "ok" and body["postgis"] == "unknown"
    # the container probe agrees
    probe = run_probe(live_app.port)
    assert probe.returncode == 1 and "503" in probe.stderr
    postgres.start()
    assert live_app.wait_health(200).json()["postgres"] == "ok"
    probe = run_probe(live_app.port)
    assert probe.returncode == 0, probe.stderr


def test_postgres_hanging_then_thawed(live_app, postgres):
    assert live_app.get_health()[0].status_code == 200  # a pooled connection exists and will hang
    postgres.pause()
    try:
        response, elapsed = live_app.get_health()
        assert_unhealthy(response, elapsed, "postgres", "timeout")
        # concurrent callers are all answered on time too, and a new connection hangs just the same
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: live_app.get_health(), range(4)))
        for response, elapsed in results:
            assert_unhealthy(response, elapsed, "postgres", "timeout")
    finally:
        postgres.resume()
    assert live_app.wait_health(200).json()["postgres"] == "ok"


def test_redis_stopped_then_restarted(live_app, redis_server):
    assert live_app.get_health()[0].status_code == 200
    redis_server.stop()
    response, elapsed = live_app.get_health()
    body = assert_unhealthy(response, elapsed, "redis", "unreachable")
    assert body["postgres"] == "ok" and VERSION.match(body["postgis"])
    redis_server.start()
    assert live_app.wait_health(200).json()["redis"] == "ok"


def test_redis_hanging_then_thawed(live_app, redis_server):
    assert live_app.get_health()[0].status_code == 200
    redis_server.pause()
    try:
        for _ in range(3):  # the first on the pooled connection, then on fresh ones
            response, elapsed = live_app.get_health()
            assert_unhealthy(response, elapsed, "redis", "timeout")
    finally:
        redis_server.resume()
    assert live_app.wait_health(200).json()["redis"] == "ok"


def test_both_down_names_both(live_app, postgres, redis_server):
    postgres.stop()
    redis_server.pause()
    response, elapsed = live_app.get_health()
    assert elapsed < ANSWER_WITHIN
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["postgres", "redis"]
    assert (body["postgres"], body["redis"]) == ("unreachable", "timeout")
    redis_server.resume()
    postgres.start()
    live_app.wait_health(200)


def test_starts_against_hanging_dependencies(start_app, blackhole):
    """Start-up does not wait on dependencies that accept connections and never answer."""
    db_hole, redis_hole = blackhole(), blackhole()
    started = time.monotonic()
    app = start_app(
        app_env(
            DATABASE_URL=f"postgresql+asyncpg://app@127.0.0.1:{db_hole.port}/{DB_NAME}",
            REDIS_URL=f"redis://127.0.0.1:{redis_hole.port}/0",
            SECRET_KEY=SECRET_KEY,
        )
    )
    assert time.monotonic() - started < 15
    for _ in range(2):
        response, elapsed = app.get_health()
        assert elapsed < ANSWER_WITHIN, elapsed
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["postgres", "redis"]
        assert body["postgres"] == body["redis"] == "timeout"
    assert app.proc.poll() is None


def test_starts_while_database_down_and_creates_postgis_when_it_returns(
    start_app, postgres, redis_server, tls_files
):
    """A database that is down at start-up does not crash the app; PostGIS is set up once it is back."""
    postgres.psql("CREATE DATABASE fresh OWNER app")
    try:
        postgres.stop()
        app = start_app(
            app_env(
                DATABASE_URL=database_url(postgres, database="fresh"),
                DATABASE_PASSWORD=DB_PASSWORD,
                REDIS_URL=redis_tls_url(redis_server, tls_files[0]),
                SECRET_KEY=SECRET_KEY,
            )
        )
        response, elapsed = app.get_health()
        assert_unhealthy(response, elapsed, "postgres", "unreachable")
        assert app.proc.poll() is None
        postgres.start()
        body = app.wait_health(200, timeout=25).json()
        installed = postgres.psql(
            "SELECT extversion FROM pg_extension WHERE extname = 'postgis'", database="fresh"
        )
        assert VERSION.match(installed) and body["postgis"] == installed
        assert "PostGIS set-up failed" in app.log()  # it retried while the database was away
    finally:
        if not postgres.running:
            postgres.start()
        postgres.psql("DROP DATABASE IF EXISTS fresh WITH (FORCE)")


def test_plain_tcp_refused_by_a_force_ssl_server(start_app, postgres, redis_server):
    """With ?ssl=disable against a TLS-only server the database is reported, not crashed on."""
    app = start_app(
        app_env(
            DATABASE_URL=database_url(postgres, ssl="disable"),
            DATABASE_PASSWORD=DB_PASSWORD,
            REDIS_URL=f"redis://:{quote(REDIS_DEFAULT_PASSWORD, safe='')}@127.0.0.1:{redis_server.port}/0",
            SECRET_KEY=SECRET_KEY,
        )
    )
    response, elapsed = app.get_health()
    body = assert_unhealthy(response, elapsed, "postgres")
    assert body["postgres"] == "authentication failed"  # pg_hba "reject" for non-TLS host connections
    assert body["redis"] == "ok"  # plain redis:// on the plain port, the password from the URL


def test_wrong_password_is_reported(start_app, postgres, redis_server, tls_files):
    app = start_app(
        app_env(
            DATABASE_URL=database_url(postgres),
            DATABASE_PASSWORD="not-the-password",
            REDIS_URL=redis_tls_url(redis_server, tls_files[0], password="wrong"),
            SECRET_KEY=SECRET_KEY,
        )
    )
    response, elapsed = app.get_health()
    assert elapsed < ANSWER_WITHIN and response.status_code == 503
    body = response.json()
    assert (body["postgres"], body["redis"]) == ("authentication failed", "authentication failed"), body


@pytest.mark.parametrize("port_open", [False, True])
def test_healthcheck_probe_fails_without_a_healthy_service(port_open, blackhole):
    """``python -m app.healthcheck`` fails when nothing listens, and when the peer never answers."""
    port = blackhole().port if port_open else free_port()
    started = time.monotonic()
    probe = run_probe(port)
    assert probe.returncode == 1
    assert probe.stderr.startswith("unhealthy:")
    assert time.monotonic() - started < 10


def test_runs_on_a_read_only_root_filesystem(start_app, postgres, redis_server, tls_files, tmp_path):
    """As on ECS (readonlyRootFilesystem): / read-only, a tmpfs on the temporary directory only.

    Runs the app in its own mount namespace (``unshare -m``; a non-root user also maps itself to root
    in a user namespace, ``-r``), where / is remounted read-only; the machine's own mounts are untouched.
    """
    unshare = shutil.which("unshare")
    if not unshare:
        pytest.fail("util-linux unshare is not installed: `make test` installs it")
    namespaces = ["-m"] if os.geteuid() == 0 else ["-r", "-m"]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = (
        "mount --make-rprivate / && mount -o remount,bind,ro / "
        f'&& mount -t tmpfs -o size=16m tmpfs "{scratch}" '
        f'&& if touch "{BACKEND}/.write-probe" 2>/dev/null; then echo "root is writable" >&2; exit 97; fi '
        '&& exec "$@"'
    )
    app = start_app(
        app_env(
            DATABASE_URL=database_url(postgres),
            DATABASE_PASSWORD=DB_PASSWORD,
            REDIS_URL=redis_tls_url(redis_server, tls_files[0]),
            SECRET_KEY=SECRET_KEY,
            TMPDIR=str(scratch),
        ),
        wrapper=[unshare, *namespaces, "sh", "-c", script, "sh"],
    )
    body = app.wait_health(200).json()
    assert VERSION.match(body["postgis"])
    assert app.proc.poll() is None
    assert "Read-only file system" not in app.log() and "Traceback" not in app.log()
