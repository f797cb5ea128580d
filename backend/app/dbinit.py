"""``python -m app.dbinit``: make the app's own database user, or bring it up to date, as the master user.

It runs to completion before every start of the app (an ECS init container, a Compose service that
the app waits for), so a fresh deployment and one that existed before this user did end in the same
state, and running it again changes nothing. In one transaction, under an advisory lock so that
tasks starting together take turns:

1. ``CREATE EXTENSION IF NOT EXISTS postgis``: the app may use PostGIS but may not create extensions;
2. the role DATABASE_APP_USER, created if missing, with LOGIN and no password, CREATEDB or CREATEROLE;
3. ``GRANT rds_iam``: on RDS it may then sign in only with an IAM token, never a password;
4. CONNECT and TEMPORARY on the database, USAGE and CREATE on schema ``public`` (the app creates and
   owns its own tables);
5. read and write on what the master user already owns in ``public`` (the tables an app that signed
   in as the master made before this user existed), and the same on what the master creates there
   later. Objects that belong to an extension (PostGIS's ``spatial_ref_sys``) are left out: PUBLIC
   may read those, nobody else may write them.

What it does not grant: superuser or rds_superuser, membership in the master's role, CREATEDB,
CREATEROLE, or anything in another database. It prints one line per step; it exits 1 with one line
naming the problem, 0 when the user is ready. Reads DATABASE_URL (the master user, no password),
DATABASE_PASSWORD and DATABASE_APP_USER (names from contract.json).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Mapping

import asyncpg

from app.config import DATABASE_URL, ConfigError, database_settings

DATABASE_APP_USER = "DATABASE_APP_USER"
IAM_ROLE = "rds_iam"  # RDS's role: its members sign in with IAM tokens only
LOCK_KEY = "homu:app.dbinit"
CONNECT_TIMEOUT = 10.0
# A plain lower-case PostgreSQL identifier: it is written into SQL, so nothing else is accepted.
_USER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"


def app_user(environ: Mapping[str, str]) -> str:
    name = environ.get(DATABASE_APP_USER, "")
    if not _USER_NAME.fullmatch(name):
        raise ConfigError(
            DATABASE_APP_USER,
            "is not set" if not name else f"is '{name}'",
            "a lower-case PostgreSQL user name: a letter or _, then letters, digits or _ (at most 63)",
        )
    return name


def _grant_owned(kind: str, relkinds: str, privileges: str, user: str) -> str:
    """GRANT on every object of these kinds in public the signed-in user owns, extension members aside."""
    return f"""
DO $grant$
DECLARE object regclass;
BEGIN
  FOR object IN
    SELECT c.oid::regclass FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ({relkinds})
      AND c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('GRANT {privileges} ON {kind} %s TO "{user}"', object);
  END LOOP;
END
$grant$"""


def steps(user: str, database: str) -> list[tuple[str, str]]:
    """(what it does, SQL) in order; ``user`` is a checked identifier, ``database`` is quoted."""
    quoted_db = '"' + database.replace('"', '""') + '"'
    return [
        ("postgis extension", "CREATE EXTENSION IF NOT EXISTS postgis"),
        (
            f"role {user}",
            f"""DO $role$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '{user}') THEN
    CREATE ROLE "{user}" LOGIN;
  END IF;
END $role$""",
        ),
        # A role made by hand earlier may carry more: take it back (and any password: IAM only).
        (f"{user}: LOGIN, no password", f'ALTER ROLE "{user}" LOGIN NOCREATEDB NOCREATEROLE PASSWORD NULL'),
        (f"{user}: member of {IAM_ROLE}", f'GRANT {IAM_ROLE} TO "{user}"'),
        (f"{user}: connect to {database}", f'GRANT CONNECT, TEMPORARY ON DATABASE {quoted_db} TO "{user}"'),
        (f"{user}: use and create in schema public", f'GRANT USAGE, CREATE ON SCHEMA public TO "{user}"'),
        (
            f"{user}: read and write the master's tables",
            _grant_owned("TABLE", "'r', 'p', 'v', 'm', 'f'", _TABLE_PRIVILEGES, user),
        ),
        (f"{user}: use the master's sequences", _grant_owned("SEQUENCE", "'S'", _SEQUENCE_PRIVILEGES, user)),
        (
            f"{user}: the same on the master's future tables",
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {_TABLE_PRIVILEGES} ON TABLES TO "{user}"',
        ),
        (
            f"{user}: the same on the master's future sequences",
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {_SEQUENCE_PRIVILEGES} ON SEQUENCES TO "{user}"',
        ),
    ]


async def initialise(dsn: str, user: str, database: str, report=print) -> None:
    conn = await asyncpg.connect(
        dsn, timeout=CONNECT_TIMEOUT, server_settings={"application_name": "homu-dbinit"}
    )
    try:
        master = await conn.fetchval("SELECT current_user")
        if master == user:
            raise ConfigError(
                DATABASE_APP_USER, f"is '{user}', the user DATABASE_URL signs in as", "another user"
            )
        if not await conn.fetchval("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", IAM_ROLE):
            raise ConfigError(
                DATABASE_URL,
                f"reaches a server without the {IAM_ROLE} role",
                "an RDS for PostgreSQL instance (it has rds_iam)",
            )
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", LOCK_KEY)
            for what, sql in steps(user, database):
                await conn.execute(sql)
                report(f"dbinit: {what}: ok")
    finally:
        await conn.close()


def main(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        settings = database_settings(environ)
        user = app_user(environ)
        database = settings.target.rpartition("/")[2]
        asyncio.run(initialise(settings.dsn, user, database))
    except ConfigError as exc:
        print(f"dbinit: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        # One line, no DSN (it holds the password): the class and the server's message.
        print(
            f"dbinit: {settings.target}: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr
        )
        return 1
    print(f"dbinit: {user} is ready on {settings.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
