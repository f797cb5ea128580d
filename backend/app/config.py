"""Configuration from the environment, checked once at start-up.

The infrastructure injects (names from contract.json):

* ``DATABASE_URL``: ``postgresql+asyncpg://USER@HOST:PORT/DB`` with no password in it, and
  ``DATABASE_AUTH=iam``: RDS IAM authentication, where every new connection signs in as USER (the
  app's own database user, which ``python -m app.dbinit`` makes) with a 15-minute token signed by the
  app's role (app.aws). No password exists that could rotate under the running app. Without
  ``DATABASE_AUTH`` (or with ``password``) the password comes from ``DATABASE_PASSWORD``,
  percent-encoded and joined into the URL here, or from the URL itself (local development; then
  ``DATABASE_PASSWORD`` is ignored). ``python -m app.dbinit`` signs in that way as the master user.
* ``REDIS_URL``: ``rediss://USER_ID@HOST:6379/0`` and ``REDIS_IAM_CACHE`` (the replication group id):
  ElastiCache IAM authentication, where every new connection signs in as USER_ID with a short-lived
  token (app.aws). Locally, without ``REDIS_IAM_CACHE``, the URL carries the password:
  ``redis://:PASSWORD@localhost:6379/0``.
* ``SECRET_KEY_KMS_KEY_ID`` and ``SECRET_KEY_KMS_MESSAGE``: SECRET_KEY is derived at start as KMS
  GenerateMac over the message (app.aws), so it is stored nowhere. Locally ``SECRET_KEY`` (at least 32
  characters) is given instead; it is declared in contract.json as a local variable.
* ``API_V1_STR`` (default from contract.json).

The AWS region comes from ``AWS_REGION`` (set by ECS) or ``AWS_DEFAULT_REGION``, as the AWS SDKs read
it; like libpq's ``PGSSLROOTCERT`` it belongs to the platform, not to the contract.

TLS to PostgreSQL: RDS runs with ``rds.force_ssl=1``. Unless the URL says otherwise, a host that is
not loopback (localhost, 127.0.0.1, ::1) is reached with ``sslmode=require`` (encrypted; the server
certificate is not verified against a CA). ``?ssl=`` or ``?sslmode=`` in the URL overrides it:
``disable`` for a local server without TLS, or ``verify-full`` together with
``sslrootcert=/path/to/rds-global-bundle.pem`` to verify the RDS certificate (the bundle must then be
in the image). For Redis the scheme decides: ``rediss://`` is TLS with the system CA store, which
trusts ElastiCache's certificates; query arguments such as ``ssl_ca_certs`` pass through to redis-py.
IAM authentication requires ``rediss://``: the token must not cross the network in clear.

Any missing or malformed value raises ``ConfigError``, which names the variable and what is expected
and never echoes the value (it may hold a credential).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from app.contract import Contract, ContractError, load_contract

# The variables this module reads. Each must be declared in contract.json (checked at load time), so
# the service and the infrastructure cannot drift apart on a name.
DATABASE_URL = "DATABASE_URL"
DATABASE_PASSWORD = "DATABASE_PASSWORD"
DATABASE_AUTH = "DATABASE_AUTH"
REDIS_URL = "REDIS_URL"
REDIS_IAM_CACHE = "REDIS_IAM_CACHE"
SECRET_KEY = "SECRET_KEY"
SECRET_KEY_KMS_KEY_ID = "SECRET_KEY_KMS_KEY_ID"
SECRET_KEY_KMS_MESSAGE = "SECRET_KEY_KMS_MESSAGE"
API_V1_STR = "API_V1_STR"
READ_VARIABLES = frozenset(
    {
        DATABASE_URL,
        DATABASE_PASSWORD,
        DATABASE_AUTH,
        REDIS_URL,
        REDIS_IAM_CACHE,
        SECRET_KEY,
        SECRET_KEY_KMS_KEY_ID,
        SECRET_KEY_KMS_MESSAGE,
        API_V1_STR,
    }
)
# Not in the contract: the platform sets them (ECS sets AWS_REGION). Read in the AWS SDKs' order.
AWS_REGION, AWS_DEFAULT_REGION = "AWS_REGION", "AWS_DEFAULT_REGION"

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
_DATABASE_IAM_FORM = (
    "postgresql+asyncpg://USER@HOST:PORT/DB, no password (an IAM token is signed per connection)"
)
DATABASE_AUTH_MODES = ("password", "iam")
# RDS refuses IAM tokens over a connection without TLS; these modes may fall back to one.
_PLAINTEXT_CAPABLE = frozenset({"disable", "allow", "prefer"})
_REDIS_FORM = "rediss://USER_ID@HOST:PORT/DB with REDIS_IAM_CACHE, or redis://:PASSWORD@HOST:PORT/DB"
_REDIS_IAM_FORM = "rediss://USER_ID@HOST:PORT/DB, no password (an IAM token is signed per connection)"
# An ElastiCache replication group id: a letter, then letters, digits and single hyphens, at most 40.
_CACHE_ID = re.compile(r"[a-z](?:-?[a-z0-9])*")
_REGION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")
# A KMS key id, key ARN, alias name or alias ARN: what GenerateMac's KeyId accepts.
_KMS_KEY_ID = re.compile(r"[A-Za-z0-9:/_+=,.@-]{1,2048}")
_KMS_MESSAGE_MAX_BYTES = 4096
_API_PREFIX = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")


class ConfigError(Exception):
    """One configuration problem: which variable, what is wrong, what is expected."""

    def __init__(self, variable: str, problem: str, expected: str) -> None:
        super().__init__(variable, problem, expected)
        self.variable, self.problem, self.expected = variable, problem, expected

    def __str__(self) -> str:
        return f"{self.variable} {self.problem}; expected {self.expected}"


@dataclass(frozen=True)
class RedisIam:
    """ElastiCache IAM authentication: sign in as ``user`` with tokens signed for ``cache_id``."""

    user: str  # the ElastiCache user id (AWS requires user name == user id)
    cache_id: str  # the replication group id, lower case as AWS signs it
    region: str


@dataclass(frozen=True)
class RdsIam:
    """RDS IAM authentication: sign in as ``user`` with tokens signed for ``host:port``."""

    user: str
    host: str
    port: int
    region: str


@dataclass(frozen=True)
class KmsSecretKey:
    """Where SECRET_KEY comes from in AWS: KMS GenerateMac (HMAC_SHA_256) of ``message`` under ``key_id``."""

    key_id: str
    message: str
    region: str


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Fields holding credentials are left out of ``repr``.

    With ``secret_key_kms`` set, ``secret_key`` is None until ``app.aws.derive_secret_key`` has asked
    KMS for it; ``python -m app`` does so before it serves.
    """

    database_dsn: str = field(repr=False)  # plain postgresql:// DSN for asyncpg, password joined in
    database_sslmode: str
    database_target: str  # USER@HOST:PORT/DB, safe to log
    database_iam: RdsIam | None
    redis_url: str = field(repr=False)  # with IAM, no user in it: the credential provider gives it
    redis_target: str  # SCHEME://[USER@]HOST:PORT/DB, safe to log
    redis_iam: RedisIam | None
    secret_key: str | None = field(repr=False)
    secret_key_kms: KmsSecretKey | None
    api_v1_str: str
    port: int
    health_path: str


def check_contract_names(contract: Contract) -> None:
    missing = sorted(READ_VARIABLES - contract.variables - contract.local - contract.init.variables)
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


@dataclass(frozen=True)
class Database:
    """Where and how to sign in to PostgreSQL."""

    dsn: str = field(repr=False)
    sslmode: str
    target: str
    iam: RdsIam | None


def database_settings(environ: Mapping[str, str]) -> Database:
    """DATABASE_URL with DATABASE_AUTH and DATABASE_PASSWORD; ConfigError on the first problem."""
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
    port = parts.port or 5432
    iam = _database_iam(environ, parts, sslmode, port)
    netloc = parts.netloc if iam else _join_password(parts, _value(environ, DATABASE_PASSWORD))
    dsn = urlunsplit(("postgresql", netloc, f"/{database}", urlencode([*query, ("sslmode", sslmode)]), ""))
    return Database(dsn, sslmode, f"{parts.username}@{host}:{port}/{database}", iam)


def _database_iam(environ: Mapping[str, str], parts, sslmode: str, port: int) -> RdsIam | None:
    auth = _value(environ, DATABASE_AUTH) or "password"
    if auth not in DATABASE_AUTH_MODES:
        raise ConfigError(DATABASE_AUTH, f"is '{auth}'", f"one of {', '.join(DATABASE_AUTH_MODES)}")
    if auth == "password":
        return None
    if parts.password is not None:
        raise ConfigError(
            DATABASE_URL,
            "has a password while DATABASE_AUTH=iam (a password or IAM tokens?)",
            _DATABASE_IAM_FORM,
        )
    if _value(environ, DATABASE_PASSWORD) is not None:
        raise ConfigError(
            DATABASE_PASSWORD, "is set while DATABASE_AUTH=iam (a password or IAM tokens?)", "it unset"
        )
    if sslmode in _PLAINTEXT_CAPABLE:
        raise ConfigError(
            DATABASE_URL,
            f"asks for sslmode={sslmode} while DATABASE_AUTH=iam",
            "sslmode=require, verify-ca or verify-full: the token must not cross the network in clear",
        )
    return RdsIam(unquote(parts.username), parts.hostname, port, _region(environ, DATABASE_AUTH))


def _region(environ: Mapping[str, str], needed_by: str) -> str:
    for name in (AWS_REGION, AWS_DEFAULT_REGION):
        region = _value(environ, name)
        if region is not None:
            if not _REGION.fullmatch(region):
                raise ConfigError(name, "is not an AWS region name", "a region such as ap-northeast-2")
            return region
    raise ConfigError(
        AWS_REGION,
        f"is not set (nor {AWS_DEFAULT_REGION}), which {needed_by} needs",
        "the AWS region, e.g. ap-northeast-2 (ECS sets AWS_REGION; on EC2 .env does)",
    )


def _redis_iam(environ: Mapping[str, str], cache: str, parts) -> RedisIam:
    if parts.scheme != "rediss":
        raise ConfigError(
            REDIS_URL, f"is not TLS ({parts.scheme}://) while REDIS_IAM_CACHE is set", _REDIS_IAM_FORM
        )
    if not parts.username:
        raise ConfigError(REDIS_URL, "has no user name, which REDIS_IAM_CACHE needs", _REDIS_IAM_FORM)
    if parts.password is not None:
        raise ConfigError(
            REDIS_URL,
            "has a password while REDIS_IAM_CACHE is set (a password or IAM tokens?)",
            _REDIS_IAM_FORM,
        )
    cache_id = cache.lower()  # AWS keeps replication group ids in lower case and signs them so
    if len(cache_id) > 40 or not _CACHE_ID.fullmatch(cache_id):
        raise ConfigError(
            REDIS_IAM_CACHE,
            "is not a replication group id",
            "1-40 letters, digits and single hyphens, starting with a letter, e.g. homu-redis",
        )
    return RedisIam(unquote(parts.username), cache_id, _region(environ, REDIS_IAM_CACHE))


def _redis(environ: Mapping[str, str]) -> tuple[str, str, RedisIam | None]:
    raw = _value(environ, REDIS_URL)
    if raw is None:
        raise ConfigError(REDIS_URL, "is not set", _REDIS_FORM)
    parts = _split(REDIS_URL, raw, REDIS_SCHEMES, _REDIS_FORM)
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ConfigError(REDIS_URL, "has a database that is not a number", _REDIS_FORM)
    address = f"{parts.hostname}:{parts.port or 6379}/{db or 0}"
    cache = _value(environ, REDIS_IAM_CACHE)
    if cache is None:
        url = urlunsplit((parts.scheme, parts.netloc, f"/{db or 0}", parts.query, ""))
        return url, f"{parts.scheme}://{address}", None
    iam = _redis_iam(environ, cache, parts)
    # redis-py refuses a user in the URL beside a credential provider: the provider names the user.
    hostport = parts.netloc.rpartition("@")[2]
    url = urlunsplit((parts.scheme, hostport, f"/{db or 0}", parts.query, ""))
    return url, f"{parts.scheme}://{iam.user}@{address}", iam


def _secret_key(environ: Mapping[str, str]) -> tuple[str | None, KmsSecretKey | None]:
    """SECRET_KEY as given (local development), or where KMS derives it from (AWS)."""
    key = _value(environ, SECRET_KEY)
    kms = {name: _value(environ, name) for name in (SECRET_KEY_KMS_KEY_ID, SECRET_KEY_KMS_MESSAGE)}
    given = [name for name, value in kms.items() if value is not None]
    either = f"either SECRET_KEY or {SECRET_KEY_KMS_KEY_ID} and {SECRET_KEY_KMS_MESSAGE}, not both"
    if key is not None:
        if given:
            raise ConfigError(SECRET_KEY, f"is set together with {' and '.join(given)}", either)
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                SECRET_KEY,
                f"is only {len(key)} characters long",
                f"a random string of at least {MIN_SECRET_KEY_LENGTH} characters",
            )
        return key, None
    if not given:
        raise ConfigError(
            SECRET_KEY,
            "is not set",
            f"a random string of at least {MIN_SECRET_KEY_LENGTH} characters, "
            f"or {SECRET_KEY_KMS_KEY_ID} and {SECRET_KEY_KMS_MESSAGE}",
        )
    if len(given) == 1:
        (missing,) = set(kms) - set(given)
        raise ConfigError(
            missing,
            f"is not set but {given[0]} is",
            f"both {SECRET_KEY_KMS_KEY_ID} (an HMAC KMS key) and {SECRET_KEY_KMS_MESSAGE}",
        )
    key_id, message = kms[SECRET_KEY_KMS_KEY_ID], kms[SECRET_KEY_KMS_MESSAGE]
    if not _KMS_KEY_ID.fullmatch(key_id):
        raise ConfigError(SECRET_KEY_KMS_KEY_ID, "is not a KMS key id", "a key ARN, key id or alias")
    if len(message.encode()) > _KMS_MESSAGE_MAX_BYTES:
        raise ConfigError(
            SECRET_KEY_KMS_MESSAGE,
            "is longer than KMS accepts",
            f"at most {_KMS_MESSAGE_MAX_BYTES} bytes, e.g. homu/dev/SECRET_KEY/1",
        )
    return None, KmsSecretKey(key_id, message, _region(environ, SECRET_KEY_KMS_KEY_ID))


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
    secret_key, secret_key_kms = _secret_key(environ)
    database = database_settings(environ)
    redis_url, redis_target, redis_iam = _redis(environ)
    return Settings(
        database_dsn=database.dsn,
        database_sslmode=database.sslmode,
        database_target=database.target,
        database_iam=database.iam,
        redis_url=redis_url,
        redis_target=redis_target,
        redis_iam=redis_iam,
        secret_key=secret_key,
        secret_key_kms=secret_key_kms,
        api_v1_str=_api_prefix(environ, contract),
        port=contract.port,
        health_path=contract.health_path,
    )
