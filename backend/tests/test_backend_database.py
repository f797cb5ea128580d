"""The app's own database user: ``python -m app.dbinit`` against a real PostgreSQL/PostGIS set up as
RDS sets one up, and sign-in with a credential per new connection while that credential rotates.

The master user here is what RDS's is: not a superuser, but CREATEROLE and CREATEDB, owner of the
database; ``rds_iam`` exists; PostGIS is installed by the superuser (on RDS the master may do it,
here it must be installed first so the master's ``CREATE EXTENSION IF NOT EXISTS`` finds it). A table
the master made stands for what an app that signed in as the master made before this user existed.
A local PostgreSQL cannot check an RDS IAM token, so where the app signs in, the test gives the app
user a password and hands that out as the "token" (the token's own form is checked against its
SigV4 signature).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from urllib.parse import quote

import asyncpg
import botocore.session
import pytest
import sigv4
from app.aws import RdsIamToken
from app.config import RdsIam, load_settings
from app.dbinit import steps
from app.resources import Resources
from conftest import AWS_ENV, AWS_REGION, BACKEND, SECRET_KEY, app_env

MASTER, MASTER_PASSWORD = "homu_admin", "master pass:w/rd#1"
APP_USER = "homu_app"
DATABASE = "homu"


@pytest.fixture(scope="module")
def rds_like(postgres):
    """A database set up as RDS leaves one, with one table of the master's and one row in it."""
    escaped = MASTER_PASSWORD.replace("'", "''")
    postgres.psql(f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB PASSWORD '{escaped}'")
    postgres.psql("CREATE ROLE rds_iam NOLOGIN")
    postgres.psql(f"CREATE DATABASE {DATABASE} OWNER {MASTER}")
    postgres.psql("CREATE EXTENSION postgis", database=DATABASE)
    postgres.psql(
        f"SET ROLE {MASTER}; CREATE TABLE places (id serial PRIMARY KEY, name text, geom geometry(Point, 4326));"
        "INSERT INTO places (name, geom) VALUES ('Seoul', ST_SetSRID(ST_MakePoint(126.98, 37.57), 4326))",
        database=DATABASE,
    )
    return postgres


def dsn(server, user: str, password: str) -> str:
    return f"postgresql://{user}:{quote(password, safe='')}@{server.host}:{server.port}/{DATABASE}?sslmode=require"


def run_dbinit(server, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = app_env(
        DATABASE_URL=f"postgresql+asyncpg://{MASTER}@{server.host}:{server.port}/{DATABASE}?ssl=require",
        DATABASE_PASSWORD=MASTER_PASSWORD,
        DATABASE_APP_USER=APP_USER,
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-m", "app.dbinit"],
        check=False,
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def initialised(rds_like):
    result = run_dbinit(rds_like)
    assert result.returncode == 0, result.stderr
    return rds_like


@pytest.fixture
def app_user(initialised):
    """The app user, with a password standing in for its IAM token (the superuser sets it)."""
    initialised.psql(f"ALTER ROLE {APP_USER} PASSWORD 'token-1'")
    yield initialised
    initialised.psql(f"ALTER ROLE {APP_USER} PASSWORD NULL")


def role(server, name: str) -> dict[str, str]:
    row = server.psql(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
        f" rolpassword IS NULL FROM pg_authid WHERE rolname = '{name}'"
    )
    keys = ("login", "superuser", "createdb", "createrole", "replication", "bypassrls", "no_password")
    return dict(zip(keys, row.split("|"), strict=True))


def memberships(server, name: str) -> set[str]:
    rows = server.psql(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        f"JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '{name}'"
    )
    return set(rows.split())


def test_dbinit_makes_the_app_user_and_running_it_again_changes_nothing(rds_like):
    first = run_dbinit(rds_like)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    ready = f"dbinit: {APP_USER} is ready on {MASTER}@{rds_like.host}:{rds_like.port}/{DATABASE}"
    assert lines == [*(f"dbinit: {what}: ok" for what, _ in steps(APP_USER, DATABASE)), ready]
    privileges = "SELECT array_agg(relname || '=' || relacl::text ORDER BY relname) FROM pg_class WHERE relacl IS NOT NULL"
    before = (role(rds_like, APP_USER), memberships(rds_like, APP_USER), rds_like.psql(privileges, DATABASE))
    again = run_dbinit(rds_like)
    assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
    assert (
        role(rds_like, APP_USER),
        memberships(rds_like, APP_USER),
        rds_like.psql(privileges, DATABASE),
    ) == before
    assert before[0] == {
        "login": "t",
        "superuser": "f",
        "createdb": "f",
        "createrole": "f",
        "replication": "f",
        "bypassrls": "f",
        "no_password": "t",
    }
    assert before[1] == {"rds_iam"}  # and not the master's role


def test_dbinit_takes_back_what_a_hand_made_user_had(rds_like):
    rds_like.psql("CREATE ROLE homu_hand LOGIN CREATEDB CREATEROLE PASSWORD 'typed-by-hand'")
    result = run_dbinit(rds_like, DATABASE_APP_USER="homu_hand")
    assert result.returncode == 0, result.stderr
    assert role(rds_like, "homu_hand") | {"login": "t"} == role(rds_like, APP_USER) | {"login": "t"}
    assert memberships(rds_like, "homu_hand") == {"rds_iam"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"DATABASE_APP_USER": ""},
            "dbinit: DATABASE_APP_USER is not set; expected a lower-case PostgreSQL user name",
        ),
        (
            {"DATABASE_APP_USER": 'x"; DROP'},
            "dbinit: DATABASE_APP_USER is 'x\"; DROP'; expected a lower-case",
        ),
        (
            {"DATABASE_APP_USER": MASTER},
            f"dbinit: DATABASE_APP_USER is '{MASTER}', the user DATABASE_URL signs in as",
        ),
        ({"DATABASE_PASSWORD": "wrong"}, "dbinit: homu_admin@127.0.0.1:"),
    ],
)
def test_dbinit_refuses_in_one_line(rds_like, overrides, message):
    result = run_dbinit(rds_like, **overrides)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message), result.stderr
    assert MASTER_PASSWORD not in result.stderr and "wrong" not in result.stderr.removeprefix(message)


def test_app_user_can_do_what_the_app_needs(app_user):
    async def scenario() -> None:
        conn = await asyncpg.connect(dsn(app_user, APP_USER, "token-1"))
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")  # the app's own start-up step
            await conn.execute("CREATE TABLE visits (id bigserial PRIMARY KEY, at geometry(Point, 4326))")
            await conn.execute(
                "INSERT INTO visits (at) VALUES (ST_SetSRID(ST_MakePoint(129.07, 35.18), 4326))"
            )
            await conn.execute("ALTER TABLE visits ADD COLUMN note text")  # its own tables: migrations
            # the master's table (made before this user existed): read and write, its sequence too
            await conn.execute(
                "INSERT INTO places (name, geom) VALUES ('Busan', ST_MakePoint(129.07, 35.18))"
            )
            await conn.execute("UPDATE places SET name = upper(name)")
            distance = await conn.fetchval(
                "SELECT round(ST_DistanceSphere(a.geom, b.geom) / 1000) FROM places a, places b "
                "WHERE a.name = 'SEOUL' AND b.name = 'BUSAN'"
            )
            assert 300 < distance < 350  # km, Seoul to Busan
            assert await conn.fetchval("SELECT count(*) FROM spatial_ref_sys WHERE srid = 4326") == 1
            await conn.execute("DELETE FROM places WHERE name = 'BUSAN'")
            await conn.execute("DROP TABLE visits")
        finally:
            await conn.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("CREATE ROLE intruder LOGIN", asyncpg.InsufficientPrivilegeError),
        ("CREATE DATABASE other", asyncpg.InsufficientPrivilegeError),
        ("CREATE EXTENSION hstore", asyncpg.InsufficientPrivilegeError),  # trusted, yet no CREATE on the db
        ("DROP EXTENSION postgis", asyncpg.InsufficientPrivilegeError),
        ("ALTER TABLE places ADD COLUMN x int", asyncpg.InsufficientPrivilegeError),
        ("DROP TABLE places", asyncpg.InsufficientPrivilegeError),
        ("DELETE FROM spatial_ref_sys", asyncpg.InsufficientPrivilegeError),
        ("SELECT rolpassword FROM pg_authid", asyncpg.InsufficientPrivilegeError),
        (f"SET ROLE {MASTER}", asyncpg.InsufficientPrivilegeError),
        ("SET ROLE rds_iam", None),  # a member may; it grants nothing inside the database
    ],
)
def test_app_user_can_do_no_more(app_user, sql, error):
    async def scenario() -> None:
        conn = await asyncpg.connect(dsn(app_user, APP_USER, "token-1"))
        try:
            if error is None:
                await conn.execute(sql)
            else:
                with pytest.raises(error):
                    await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(scenario())


# --- sign-in with a credential per connection -----------------------------------------------------


def test_rds_token_is_a_presigned_connect_request():
    session = botocore.session.Session()
    session.set_credentials("AKIDUNITTEST", "unit-test-secret")
    iam = RdsIam(APP_USER, "homu-db.abc.ap-northeast-2.rds.amazonaws.com", 5432, AWS_REGION)
    started = datetime.now(UTC)
    sigv4.check_token(
        asyncio.run(RdsIamToken(iam, session)()),
        host="homu-db.abc.ap-northeast-2.rds.amazonaws.com:5432",
        service="rds-db",
        region=AWS_REGION,
        params={"Action": "connect", "DBUser": APP_USER},
        access_key="AKIDUNITTEST",
        secret_key="unit-test-secret",
        signed_from=started,
    )


def iam_settings(server):
    return load_settings(
        {
            "DATABASE_URL": f"postgresql+asyncpg://{APP_USER}@{server.host}:{server.port}/{DATABASE}?ssl=require",
            "DATABASE_AUTH": "iam",
            "REDIS_URL": "redis://:unused@127.0.0.1:1/0",
            "SECRET_KEY": SECRET_KEY,
            **AWS_ENV,
        }
    )


def test_a_rotated_credential_needs_no_restart(app_user, monkeypatch, capsys):
    """The app signs in with what its credential source gives at that moment, once per new
    connection. The credential changes under the running app (as an RDS token does every 15 minutes,
    or a rotated password); open connections keep working, the next new one signs in with the new
    credential, and the old one is refused from then on."""
    current = {"token": "token-1"}
    issued: list[str] = []
    timeline: list[str] = []
    started = time.monotonic()

    def note(event: str) -> None:
        timeline.append(f"{time.monotonic() - started:6.2f}s  {event}")

    def token(self) -> str:  # the source RdsIamToken would sign from: here the test's "token"
        issued.append(current["token"])
        return current["token"]

    monkeypatch.setattr(RdsIamToken, "token", token)

    async def query(resources: Resources) -> int:
        return await resources._with_connection(lambda conn: conn.fetchval("SELECT pg_backend_pid()"), 5.0)

    async def scenario() -> None:
        resources = Resources(iam_settings(app_user))
        await resources.start()
        try:
            assert isinstance(resources.pool._connect_kwargs["password"], RdsIamToken)
            await resources._bootstrap  # start-up's PostGIS step signs in first
            first = await query(resources)
            assert issued == ["token-1"]
            note(f"the app starts and signs in (backend {first}) with {issued[-1]}")
            app_user.psql(f"ALTER ROLE {APP_USER} PASSWORD 'token-2'")
            current["token"] = "token-2"
            note("the credential rotates: token-1 is refused from now on")
            assert await query(resources) == first
            note(f"the open connection keeps working (backend {first}), no new sign-in")
            app_user.psql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{APP_USER}'"
            )
            note("the server closes it (a restart, a failover, the pool's idle timeout)")
            second = await query(resources)
            note(f"the next query opens a new connection (backend {second}) with {issued[-1]}; no restart")
            assert second != first and issued == ["token-1", "token-2"]
        finally:
            await resources.close()

    asyncio.run(scenario())
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(asyncpg.connect(dsn(app_user, APP_USER, "token-1")))
    note("a sign-in with token-1 is refused")
    with capsys.disabled():
        print("\nrotation timeline:\n" + "\n".join(timeline))
