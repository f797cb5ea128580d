"""Configuration: password joining, Redis IAM and KMS settings, TLS defaults, and start-up refusing
bad values in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from app.config import READ_VARIABLES, ConfigError, KmsSecretKey, RdsIam, RedisIam, load_settings
from app.contract import ContractError, load_contract
from conftest import BACKEND, app_env

KEY = "s" * 32
DB = "postgresql+asyncpg://app@db.internal.example:5432/appdb"
REDIS = "rediss://cache.internal.example:6379/0"
REDIS_IAM = "rediss://homu-backend@master.homu-redis.abc123.apn2.cache.amazonaws.com:6379/0"
KMS_KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_MESSAGE = "homu/dev/SECRET_KEY/1"
NASTY = "p@ss:w/rd #?%&=+'é"  # every URL-special character, a space and a non-ASCII letter
DB_IAM = {"DATABASE_AUTH": "iam", "AWS_REGION": "ap-northeast-2"}
IAM = {"REDIS_URL": REDIS_IAM, "REDIS_IAM_CACHE": "homu-redis", "AWS_REGION": "ap-northeast-2"}
KMS = {
    "SECRET_KEY": None,
    "SECRET_KEY_KMS_KEY_ID": KMS_KEY,
    "SECRET_KEY_KMS_MESSAGE": KMS_MESSAGE,
    "AWS_REGION": "ap-northeast-2",
}


def env(**overrides: str | None) -> dict[str, str]:
    values = {"DATABASE_URL": DB, "REDIS_URL": REDIS, "SECRET_KEY": KEY}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


# --- the contract ---------------------------------------------------------------------------------


def test_variables_read_are_exactly_the_contracts():
    contract = load_contract()
    assert READ_VARIABLES == contract.variables | contract.local | {"DATABASE_PASSWORD"}
    # the master password only reaches the one-shot database init, never the app
    assert contract.secrets == set() and contract.init.secrets == {"DATABASE_PASSWORD"}
    assert contract.init.command == ("python", "-m", "app.dbinit")
    # injected in AWS: no credential for Redis or SECRET_KEY among them
    assert {"REDIS_IAM_CACHE", "SECRET_KEY_KMS_KEY_ID", "SECRET_KEY_KMS_MESSAGE"} <= contract.environment
    assert "SECRET_KEY" not in contract.variables and contract.local == {"SECRET_KEY"}
    assert "REDIS_PASSWORD" not in READ_VARIABLES | contract.variables


def test_settings_take_port_health_and_prefix_from_the_contract():
    raw = json.loads((BACKEND / "contract.json").read_text())
    settings = load_settings(env())
    assert (settings.port, settings.health_path, settings.api_v1_str) == (
        raw["port"],
        raw["health_path"],
        raw["api_v1_str"],
    )
    assert load_settings(env(API_V1_STR="/api/v2")).api_v1_str == "/api/v2"


def test_contract_errors_are_one_line(tmp_path: Path):
    with pytest.raises(ContractError, match="cannot read"):
        load_contract(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    good = {
        "port": 8000,
        "health_path": "/health",
        "api_v1_str": "/api",
        "user": "10001",
        "secrets": {},
        "environment": {},
        "database_init": {"command": ["python", "-m", "app.dbinit"], "secrets": {}, "environment": {}},
        "local": {},
    }
    for change, message in (
        ({"database_init": {"command": [], "secrets": {}, "environment": {}}}, "command must be a non-empty"),
        ({"port": "8000"}, "port must be an integer"),
        ({"user": "0"}, "non-root UID"),
        ({"health_path": "health"}, "health_path must be a path"),
    ):
        bad.write_text(json.dumps({**good, **change}))
        with pytest.raises(ContractError, match=message):
            load_contract(bad)
    del good["user"]
    bad.write_text(json.dumps(good))
    with pytest.raises(ContractError, match="malformed"):
        load_contract(bad)


# --- password joining -----------------------------------------------------------------------------


def test_database_password_is_encoded_and_joined():
    settings = load_settings(env(DATABASE_PASSWORD=NASTY))
    parts = urlsplit(settings.database_dsn)
    assert parts.scheme == "postgresql"  # asyncpg's own scheme
    assert (parts.username, unquote(parts.password), parts.hostname, parts.port) == (
        "app",
        NASTY,
        "db.internal.example",
        5432,
    )
    assert parts.path == "/appdb"
    assert NASTY not in settings.database_dsn  # encoded, not pasted
    assert settings.database_target == "app@db.internal.example:5432/appdb"


def test_database_url_with_a_password_is_used_as_is():
    settings = load_settings(
        env(DATABASE_URL="postgresql://dev:local%40pw@localhost/dev", DATABASE_PASSWORD="ignored")
    )
    parts = urlsplit(settings.database_dsn)
    assert (parts.username, parts.password) == ("dev", "local%40pw")
    assert "ignored" not in settings.database_dsn


def test_database_without_password_stays_without():
    parts = urlsplit(load_settings(env(DATABASE_PASSWORD="")).database_dsn)
    assert (parts.username, parts.password) == ("app", None)


def test_database_iam_signs_in_as_the_url_user_over_tls(tmp_path: Path):
    bundle = tmp_path / "rds-global-bundle.pem"
    bundle.write_text("")
    settings = load_settings(env(**DB_IAM))
    assert settings.database_iam == RdsIam("app", "db.internal.example", 5432, "ap-northeast-2")
    parts = urlsplit(settings.database_dsn)
    assert parts.password is None and parse_qs(parts.query)["sslmode"] == ["require"]
    verified = load_settings(
        env(**DB_IAM, DATABASE_URL=DB.replace("5432/", "6543/") + f"?sslmode=verify-ca&sslrootcert={bundle}")
    )
    assert verified.database_iam.port == 6543 and verified.database_sslmode == "verify-ca"
    assert load_settings(env(DATABASE_AUTH="password")).database_iam is None


def test_redis_password_in_the_url_is_used_as_is():
    """Local development: the password sits in REDIS_URL, percent-encoded, and no IAM is involved."""
    url = f"rediss://:{quote(NASTY, safe='')}@cache.internal.example:6379/0"
    settings = load_settings(env(REDIS_URL=url))
    parts = urlsplit(settings.redis_url)
    assert parts.scheme == "rediss"
    assert parts.username == "" and unquote(parts.password) == NASTY
    assert (parts.hostname, parts.port, parts.path) == ("cache.internal.example", 6379, "/0")
    assert settings.redis_target == "rediss://cache.internal.example:6379/0"
    assert settings.redis_iam is None
    assert load_settings(env(REDIS_URL="redis://:devpass@localhost:6379/0")).redis_url == (
        "redis://:devpass@localhost:6379/0"
    )


def test_redis_user_query_and_database():
    kept = load_settings(env(REDIS_URL="redis://default:t@localhost:6380/2?ssl_cert_reqs=none")).redis_url
    assert kept == "redis://default:t@localhost:6380/2?ssl_cert_reqs=none"
    assert load_settings(env(REDIS_URL="redis://localhost")).redis_url == "redis://localhost/0"


def test_redis_iam_takes_the_user_from_the_url():
    settings = load_settings(env(**IAM))
    assert settings.redis_iam == RedisIam("homu-backend", "homu-redis", "ap-northeast-2")
    # redis-py takes the user from the credential provider, so the URL keeps no user
    assert settings.redis_url == "rediss://master.homu-redis.abc123.apn2.cache.amazonaws.com:6379/0"
    assert settings.redis_target == (
        "rediss://homu-backend@master.homu-redis.abc123.apn2.cache.amazonaws.com:6379/0"
    )
    with_query = load_settings(
        env(**{**IAM, "REDIS_URL": REDIS_IAM.replace("/0", "/3?ssl_cert_reqs=required")})
    )
    assert urlsplit(with_query.redis_url)[2:4] == ("/3", "ssl_cert_reqs=required")


@pytest.mark.parametrize(
    ("region_variables", "region"),
    [
        ({"AWS_REGION": "us-east-1"}, "us-east-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-1"}, "us-east-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
    ],
)
def test_region_from_aws_region_then_aws_default_region(region_variables, region):
    overrides = {**IAM, **KMS, "AWS_REGION": None, **region_variables}
    settings = load_settings(env(**overrides))
    assert settings.redis_iam.region == settings.secret_key_kms.region == region


def test_redis_iam_cache_is_signed_in_lower_case():
    assert load_settings(env(**{**IAM, "REDIS_IAM_CACHE": "Homu-Redis"})).redis_iam.cache_id == "homu-redis"


def test_secret_key_from_kms_is_left_to_derive():
    settings = load_settings(env(**KMS))
    assert settings.secret_key is None
    assert settings.secret_key_kms == KmsSecretKey(KMS_KEY, KMS_MESSAGE, "ap-northeast-2")
    assert KMS_KEY in repr(settings)  # where the key comes from is no secret
    local = load_settings(env())
    assert (local.secret_key, local.secret_key_kms) == (KEY, None)


def test_secrets_stay_out_of_repr():
    settings = load_settings(
        env(DATABASE_PASSWORD="db-secret-value", REDIS_URL="redis://:redis-secret-value@localhost/0")
    )
    text = repr(settings)
    for secret in ("db-secret-value", "redis-secret-value", KEY):
        assert secret not in text


# --- TLS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "mode"),
    [
        (DB, "require"),  # RDS: rds.force_ssl=1
        ("postgresql+asyncpg://app@localhost/appdb", "disable"),
        ("postgresql+asyncpg://app@127.0.0.1:5433/appdb", "disable"),
        ("postgresql+asyncpg://app@[::1]/appdb", "disable"),
        (DB + "?ssl=disable", "disable"),
        (DB + "?sslmode=prefer", "prefer"),
        ("postgresql+asyncpg://app@localhost/appdb?ssl=require", "require"),
        ("postgresql+asyncpg://app@localhost/appdb?ssl=true", "require"),
    ],
)
def test_database_tls_mode(url, mode):
    settings = load_settings(env(DATABASE_URL=url))
    assert settings.database_sslmode == mode
    assert parse_qs(urlsplit(settings.database_dsn).query)["sslmode"] == [mode]


def test_verify_full_needs_a_ca_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="sslrootcert"):
        load_settings(env(DATABASE_URL=DB + "?sslmode=verify-full"))
    ca = tmp_path / "rds-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(env(DATABASE_URL=f"{DB}?sslmode=verify-full&sslrootcert={ca}"))
    query = parse_qs(urlsplit(settings.database_dsn).query)
    assert query == {"sslmode": ["verify-full"], "sslrootcert": [str(ca)]}


# --- refusing bad configuration -------------------------------------------------------------------

KMS_ONLY = {"SECRET_KEY": None, "AWS_REGION": "ap-northeast-2"}
BAD = [
    ("SECRET_KEY", {"SECRET_KEY": None}, "is not set"),
    ("SECRET_KEY", {"SECRET_KEY": None}, "or SECRET_KEY_KMS_KEY_ID and SECRET_KEY_KMS_MESSAGE"),
    ("SECRET_KEY", {"SECRET_KEY": "x" * 31}, "at least 32"),
    (
        "SECRET_KEY",
        {**KMS, "SECRET_KEY": KEY},
        "together with SECRET_KEY_KMS_KEY_ID and SECRET_KEY_KMS_MESSAGE",
    ),
    ("SECRET_KEY", {"SECRET_KEY_KMS_MESSAGE": KMS_MESSAGE}, "together with SECRET_KEY_KMS_MESSAGE"),
    ("SECRET_KEY_KMS_MESSAGE", {**KMS_ONLY, "SECRET_KEY_KMS_KEY_ID": KMS_KEY}, "is not set"),
    ("SECRET_KEY_KMS_KEY_ID", {**KMS_ONLY, "SECRET_KEY_KMS_MESSAGE": KMS_MESSAGE}, "is not set"),
    ("SECRET_KEY_KMS_KEY_ID", {**KMS, "SECRET_KEY_KMS_KEY_ID": "my key"}, "not a KMS key id"),
    ("SECRET_KEY_KMS_MESSAGE", {**KMS, "SECRET_KEY_KMS_MESSAGE": "m" * 4097}, "longer than KMS accepts"),
    ("AWS_REGION", {**KMS, "AWS_REGION": None}, "SECRET_KEY_KMS_KEY_ID needs"),
    ("DATABASE_URL", {"DATABASE_URL": None}, "is not set"),
    ("DATABASE_URL", {"DATABASE_URL": "mysql://app@db/appdb"}, "scheme 'mysql'"),
    ("DATABASE_URL", {"DATABASE_URL": "db.internal.example:5432/appdb"}, "scheme"),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql+asyncpg://app@/appdb"}, "no host"),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql+asyncpg://app@db:notaport/appdb"}, "invalid port"),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql+asyncpg://app@db:5432"}, "no database"),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql+asyncpg://db:5432/appdb"}, "no user"),
    ("DATABASE_URL", {"DATABASE_URL": DB + "?ssl=maybe"}, "unknown ssl"),
    ("DATABASE_URL", {"DATABASE_URL": DB + "?ssl=require&sslmode=disable"}, "conflicting"),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql+asyncpg://app:p#w@db/appdb"}, "fragment"),
    ("DATABASE_AUTH", {"DATABASE_AUTH": "token"}, "is 'token'; expected one of password, iam"),
    ("DATABASE_URL", {**DB_IAM, "DATABASE_URL": DB.replace("app@", "app:pw@")}, "has a password while"),
    ("DATABASE_PASSWORD", {**DB_IAM, "DATABASE_PASSWORD": "pw"}, "is set while DATABASE_AUTH=iam"),
    (
        "DATABASE_URL",
        {**DB_IAM, "DATABASE_URL": DB + "?sslmode=prefer"},
        "sslmode=prefer while DATABASE_AUTH=iam",
    ),
    ("AWS_REGION", {**DB_IAM, "AWS_REGION": None}, "DATABASE_AUTH needs"),
    ("REDIS_URL", {"REDIS_URL": None}, "is not set"),
    ("REDIS_URL", {"REDIS_URL": "http://cache:6379/0"}, "scheme 'http'"),
    ("REDIS_URL", {"REDIS_URL": "rediss://cache:6379/zero"}, "not a number"),
    ("REDIS_URL", {**IAM, "REDIS_URL": REDIS}, "no user name"),
    ("REDIS_URL", {**IAM, "REDIS_URL": REDIS_IAM.replace("backend@", "backend:pw@")}, "has a password"),
    ("REDIS_URL", {**IAM, "REDIS_URL": REDIS_IAM.replace("rediss:", "redis:")}, "not TLS"),
    ("REDIS_IAM_CACHE", {**IAM, "REDIS_IAM_CACHE": "homu_redis"}, "not a replication group id"),
    ("REDIS_IAM_CACHE", {**IAM, "REDIS_IAM_CACHE": "homu--redis"}, "not a replication group id"),
    ("REDIS_IAM_CACHE", {**IAM, "REDIS_IAM_CACHE": "h" * 41}, "not a replication group id"),
    ("AWS_REGION", {**IAM, "AWS_REGION": None}, "REDIS_IAM_CACHE needs"),
    ("AWS_REGION", {**IAM, "AWS_REGION": "Seoul 2"}, "not an AWS region"),
    ("AWS_DEFAULT_REGION", {**IAM, "AWS_REGION": None, "AWS_DEFAULT_REGION": "x"}, "not an AWS region"),
    ("API_V1_STR", {"API_V1_STR": "api/v1"}, "not a path prefix"),
    ("API_V1_STR", {"API_V1_STR": "/api/v1/"}, "not a path prefix"),
    ("API_V1_STR", {"API_V1_STR": "/health"}, "health path"),
]


@pytest.mark.parametrize(("variable", "overrides", "problem"), BAD, ids=[f"{v}-{p}" for v, _, p in BAD])
def test_bad_configuration_names_the_variable(variable, overrides, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(env(**overrides))
    assert caught.value.variable == variable
    message = str(caught.value)
    assert message.startswith(variable) and problem in message and "expected" in message
    assert "\n" not in message


CLI_CASES = [
    ("SECRET_KEY", {"SECRET_KEY": None}),
    ("SECRET_KEY", {"SECRET_KEY": "short-secret-value"}),
    ("SECRET_KEY", {**KMS, "SECRET_KEY": "a-local-secret-key-of-enough-length"}),
    ("SECRET_KEY_KMS_MESSAGE", {**KMS_ONLY, "SECRET_KEY_KMS_KEY_ID": KMS_KEY}),
    ("REDIS_URL", {**IAM, "REDIS_URL": REDIS_IAM.replace("backend@", "backend:hunter2-password@")}),
    ("DATABASE_URL", {"DATABASE_URL": "mysql://app:hunter2-password@db/appdb"}),
    ("REDIS_URL", {"REDIS_URL": "memcached://cache:11211"}),
    ("API_V1_STR", {"API_V1_STR": "api-v1"}),
]


@pytest.mark.parametrize(("variable", "overrides"), CLI_CASES, ids=[v for v, _ in CLI_CASES])
def test_start_up_refuses_bad_configuration_in_one_line(variable, overrides):
    """``python -m app`` (the image's command) exits non-zero with one line and no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=BACKEND,
        env=app_env(**env(**overrides)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"backend: configuration error: {variable} ")
    assert "expected" in lines[0]
    assert "Traceback" not in result.stderr
    for value in overrides.values():  # a rejected value is never echoed: it may be a credential
        if value:
            assert value not in result.stderr
    assert "hunter2" not in result.stderr
