"""Configuration from the environment, checked once at start-up.

The infrastructure injects (names from contract.json):

* ``DATABASE_URL``: ``postgresql+asyncpg://USER@HOST:PORT/DB`` with no password in it, and
  ``DATABASE_PASSWORD`` (optional) beside it, so RDS can rotate the password in its own secret. The
  password is percent-encoded and joined into the URL here. A URL that already carries a password
  (local development) is used as it is and ``DATABASE_PASSWORD`` is then ignored.
* ``REDIS_URL``: ``rediss://HOST:6379/0`` (TLS) or ``redis://`` locally, with no token in it, and
  ``REDIS_PASSWORD`` (optional), the AUTH token, joined in the same way.
* ``SECRET_KEY`` (at least 32 characters) and ``API_V1_STR`` (default from contract.json).

TLS to PostgreSQL: RDS runs with ``rds.force_ssl=1``. Unless the URL says otherwise, a host that is
not loopback (localhost, 127.0.0.1, ::1) is reached with ``sslmode=require`` (encrypted; the server
certificate is not verified against a CA). ``?ssl=`` or ``?sslmode=`` in the URL overrides it:
``disable`` for a local server without TLS, or ``verify-full`` together with
``sslrootcert=/path/to/rds-global-bundle.pem`` to verify the RDS certificate (the bundle must then be
in the image). For Redis the scheme decides: ``rediss://`` is TLS with the system CA store, which
trusts ElastiCache's certificates; query arguments such as ``ssl_ca_certs`` pass through to redis-py.

Any missing or malformed value raises ``ConfigError``, which names the variable and what is expected
and never echoes the value (it may hold a credential).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from app.contract import Contract, ContractError, load_contract

# The variables this module reads. Each must be declared in contract.json (checked at load time), so
# the service and the infrastructure cannot drift apart on a name.
DATABASE_URL = "DATABASE_URL"
DATABASE_PASSWORD = "DATABASE_PASSWORD"
REDIS_URL = "REDIS_URL"
REDIS_PASSWORD = "REDIS_PASSWORD"
SECRET_KEY = "SECRET_KEY"
API_V1_STR = "API_V1_STR"
READ_VARIABLES = frozenset(
    {DATABASE_URL, DATABASE_PASSWORD, REDIS_URL, REDIS_PASSWORD, SECRET_KEY, API_V1_STR}
)

MIN_SECRET_KEY_LENGTH = 32
DATABASE_SCHEMES = frozenset({"postgresql+asyncpg", "postgresql", "postgres"})
REDIS_SCHEMES = frozenset({"redis", "rediss"})
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_SSL_ALIASES = {
    "true": "require",
    "on": "require",
    "1": "require",
    "false": "disable",
    "off": "disable",
    "0": "disable",
}
_DATABASE_FORM = "postgresql+asyncpg://USER@HOST:PORT/DB (password in DATABASE_PASSWORD)"
_REDIS_FORM = "rediss://HOST:PORT/DB or redis://HOST:PORT/DB (token in REDIS_PASSWORD)"
_API_PREFIX = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")


class ConfigError(Exception):
    """One configuration problem: which variable, what is wrong, what is expected."""

    def __init__(self, variable: str, problem: str, expected: str) -> None:
        super().__init__(variable, problem, expected)
        self.variable, self.problem, self.expected = variable, problem, expected

    def __str__(self) -> str:
        return f"{self.variable} {self.problem}; expected {self.expected}"


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Fields holding credentials are left out of ``repr``."""

    database_dsn: str = field(repr=False)  # plain postgresql:// DSN for asyncpg, password joined in
    database_sslmode: str
    database_target: str  # USER@HOST:PORT/DB, safe to log
    redis_url: str = field(repr=False)
    redis_target: str  # SCHEME://HOST:PORT/DB, safe to log
    secret_key: str = field(repr=False)
    api_v1_str: str
    port: int
    health_path: str


def check_contract_names(contract: Contract) -> None:
    missing = sorted(READ_VARIABLES - contract.variables)
    if missing:
        raise ContractError(f"contract.json does not declare {', '.join(missing)}, which the service reads")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _value(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or None when it is unset or empty (an empty secret counts as unset)."""
    value = environ.get(name)
    return value if value else None


def _split(name: str, raw: str, schemes: frozenset[str], form: str):
    parts = urlsplit(raw.strip())
    if parts.scheme not in schemes:
        got = f"scheme '{parts.scheme}'" if parts.scheme else "no scheme"
        raise ConfigError(name, f"has {got}", form)
    if parts.fragment:
        raise ConfigError(name, "has a '#' fragment (a password with '#' must be percent-encoded)", form)
    if not parts.hostname:
        raise ConfigError(name, "has no host", form)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(name, "has an invalid port", f"a port number in 1-65535 in {form}") from None
    if port == 0:
        raise ConfigError(name, "has an invalid port", f"a port number in 1-65535 in {form}")
    return parts


def _join_password(parts, password: str | None) -> str:
    """netloc with the password joined in, unless the URL already carries one (then as it is)."""
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if parts.password is not None or not password:
        return parts.netloc
    return (
        f"{userinfo}:{quote(password, safe='')}@{hostport}"
        if at
        else f":{quote(password, safe='')}@{hostport}"
    )


def _database(environ: Mapping[str, str]) -> tuple[str, str, str]:
    raw = _value(environ, DATABASE_URL)
    if raw is None:
        raise ConfigError(DATABASE_URL, "is not set", _DATABASE_FORM)
    parts = _split(DATABASE_URL, raw, DATABASE_SCHEMES, _DATABASE_FORM)
    if not parts.username:
        raise ConfigError(DATABASE_URL, "has no user name", _DATABASE_FORM)
    database = parts.path.removeprefix("/")
    if not database or "/" in database:
        raise ConfigError(DATABASE_URL, "has no database name", _DATABASE_FORM)

    query: list[tuple[str, str]] = []
    modes: set[str] = set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ("ssl", "sslmode"):
            mode = _SSL_ALIASES.get(value.lower(), value.lower())
            if mode not in SSL_MODES:
                raise ConfigError(
                    DATABASE_URL, f"has an unknown {key} value", f"{key}= one of {', '.join(SSL_MODES)}"
                )
            modes.add(mode)
        else:
            query.append((key, value))
    if len(modes) > 1:
        raise ConfigError(DATABASE_URL, "has conflicting ssl and sslmode values", "a single TLS mode")
    host = parts.hostname
    sslmode = modes.pop() if modes else ("disable" if is_loopback(host) else "require")
    if sslmode in ("verify-ca", "verify-full"):
        rootcert = dict(query).get("sslrootcert") or environ.get("PGSSLROOTCERT")
        if not rootcert or not os.path.isfile(rootcert):
            raise ConfigError(
                DATABASE_URL,
                f"asks for sslmode={sslmode} without a readable CA file",
                "sslrootcert=/path/to/ca-bundle.pem in the URL (e.g. the RDS global bundle)",
            )
    netloc = _join_password(parts, _value(environ, DATABASE_PASSWORD))
    dsn = urlunsplit(("postgresql", netloc, f"/{database}", urlencode([*query, ("sslmode", sslmode)]), ""))
    target = f"{parts.username}@{host}:{parts.port or 5432}/{database}"
    return dsn, sslmode, target


def _redis(environ: Mapping[str, str]) -> tuple[str, str]:
    raw = _value(environ, REDIS_URL)
    if raw is None:
        raise ConfigError(REDIS_URL, "is not set", _REDIS_FORM)
    parts = _split(REDIS_URL, raw, REDIS_SCHEMES, _REDIS_FORM)
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ConfigError(REDIS_URL, "has a database that is not a number", _REDIS_FORM)
    netloc = _join_password(parts, _value(environ, REDIS_PASSWORD))
    url = urlunsplit((parts.scheme, netloc, f"/{db or 0}", parts.query, ""))
    return url, f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}/{db or 0}"


def _secret_key(environ: Mapping[str, str]) -> str:
    expected = f"a random string of at least {MIN_SECRET_KEY_LENGTH} characters"
    key = _value(environ, SECRET_KEY)
    if key is None:
        raise ConfigError(SECRET_KEY, "is not set", expected)
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(SECRET_KEY, f"is only {len(key)} characters long", expected)
    return key


def _api_prefix(environ: Mapping[str, str], contract: Contract) -> str:
    prefix = _value(environ, API_V1_STR) or contract.api_v1_str
    if not _API_PREFIX.match(prefix):
        raise ConfigError(API_V1_STR, "is not a path prefix", "a path such as /api/v1 (no trailing slash)")
    if prefix == contract.health_path:
        raise ConfigError(API_V1_STR, "equals the health path", f"a prefix other than {contract.health_path}")
    return prefix


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every variable; raises ConfigError (or ContractError) on the first problem."""
    environ = os.environ if environ is None else environ
    contract = load_contract()
    check_contract_names(contract)
    secret_key = _secret_key(environ)
    dsn, sslmode, db_target = _database(environ)
    redis_url, redis_target = _redis(environ)
    return Settings(
        database_dsn=dsn,
        database_sslmode=sslmode,
        database_target=db_target,
        redis_url=redis_url,
        redis_target=redis_target,
        secret_key=secret_key,
        api_v1_str=_api_prefix(environ, contract),
        port=contract.port,
        health_path=contract.health_path,
    )
