"""The AWS paths: Redis with ElastiCache IAM auth tokens, and SECRET_KEY derived with KMS.

Redis is the tests' real server, where the ACL user ``homu-backend`` takes any password (a local
Redis cannot check a SigV4 token) and the default user needs its own. KMS is moto's: in process
(``mock_aws``), or as a local server the app is pointed at with ``AWS_ENDPOINT_URL_KMS``. The
credentials are dummies; botocore finds nothing else (no ~/.aws files, no metadata endpoint).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import boto3
import botocore.session
import pytest
import redis
import sigv4
from app.aws import ElastiCacheIAMProvider, derive_secret_key, generate_secret_key
from app.config import ConfigError, KmsSecretKey, RedisIam, load_settings
from app.resources import Resources
from botocore.awsrequest import AWSResponse
from botocore.exceptions import NoCredentialsError
from conftest import (
    AWS_ENV,
    AWS_REGION,
    BACKEND,
    DB_PASSWORD,
    REDIS_IAM_CACHE,
    REDIS_IAM_USER,
    SECRET_KEY,
    app_env,
    database_url,
    redis_iam_url,
)
from moto import mock_aws
from moto.server import ThreadedMotoServer
from servers import free_port

MESSAGE = "homu/dev/SECRET_KEY/1"
IAM = RedisIam(REDIS_IAM_USER, REDIS_IAM_CACHE, AWS_REGION)
HEX_KEY = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def aws_environment(monkeypatch):
    """This process's environment as the app's in AWS, with dummy credentials and nothing else."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)


# --- Redis: IAM auth tokens -----------------------------------------------------------------------


def check_token(token: str, access_key: str, secret_key: str, signed_from: datetime) -> None:
    """ElastiCache's form: ``GET https://CACHE/?Action=connect&User=USER``."""
    sigv4.check_token(
        token,
        host=REDIS_IAM_CACHE,
        service="elasticache",
        region=AWS_REGION,
        params={"Action": "connect", "User": REDIS_IAM_USER},
        access_key=access_key,
        secret_key=secret_key,
        signed_from=signed_from,
    )


def test_token_is_a_presigned_connect_request():
    session = botocore.session.Session()
    session.set_credentials("AKIDUNITTEST", "unit-test-secret")
    started = datetime.now(UTC)
    user, token = ElastiCacheIAMProvider(IAM, session).get_credentials()
    assert user == REDIS_IAM_USER
    check_token(token, "AKIDUNITTEST", "unit-test-secret", started)


def test_token_needs_credentials(aws_environment, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(NoCredentialsError):
        ElastiCacheIAMProvider(IAM).get_credentials()


def iam_clients(redis_server) -> dict[int, dict]:
    """The server's connections signed in as the IAM user, by id."""
    return {c["id"]: c for c in redis_server.client().client_list() if c["user"] == REDIS_IAM_USER}


def test_every_new_connection_signs_in_with_a_fresh_token(aws_environment, redis_server, tls_files):
    """Through the service's own Redis client: the provider signs once per new connection, with the
    credentials of that moment (the role's are rotated), and the server sees the IAM user."""
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://app@127.0.0.1:1/appdb",
            "REDIS_URL": redis_iam_url(redis_server, tls_files[0]),
            "REDIS_IAM_CACHE": REDIS_IAM_CACHE,
            "SECRET_KEY": SECRET_KEY,
            "AWS_REGION": AWS_REGION,
        }
    )
    redis_server.command("CLIENT", "KILL", "USER", REDIS_IAM_USER)  # none left from other tests
    sent: list[tuple[tuple[str, str], datetime]] = []

    async def scenario() -> None:
        resources = Resources(settings)
        provider = resources.redis.connection_pool.connection_kwargs["credential_provider"]
        sign = provider.get_credentials

        def recording() -> tuple[str, str]:  # what redis-py sends with AUTH (MONITOR redacts it)
            started = datetime.now(UTC)
            sent.append((sign(), started))
            return sent[-1][0]

        provider.get_credentials = recording
        try:
            assert await resources.redis.acl_whoami() == REDIS_IAM_USER
            assert await resources.redis.acl_whoami() == REDIS_IAM_USER  # same connection: no new token
            assert len(sent) == 1 and len(iam_clients(redis_server)) == 1
            provider.session.set_credentials("AKIDROTATED0002", "rotated-secret")
            # ElastiCache ends IAM connections after 12 hours; the next command reconnects
            assert redis_server.command("CLIENT", "KILL", "USER", REDIS_IAM_USER) == 1
            assert await resources.redis.acl_whoami() == REDIS_IAM_USER
            assert len(sent) == 2
        finally:
            await resources.redis.aclose()

    asyncio.run(scenario())
    (first, first_at), (second, second_at) = sent
    assert first[0] == second[0] == REDIS_IAM_USER
    check_token(first[1], AWS_ENV["AWS_ACCESS_KEY_ID"], AWS_ENV["AWS_SECRET_ACCESS_KEY"], first_at)
    check_token(second[1], "AKIDROTATED0002", "rotated-secret", second_at)


# --- SECRET_KEY from KMS --------------------------------------------------------------------------


def kms_settings(key_id: str, message: str = MESSAGE):
    return load_settings(
        {
            "DATABASE_URL": "postgresql://app@127.0.0.1:1/appdb",
            "REDIS_URL": "redis://:devpass@localhost:6379/0",
            "SECRET_KEY_KMS_KEY_ID": key_id,
            "SECRET_KEY_KMS_MESSAGE": message,
            "AWS_REGION": AWS_REGION,
        }
    )


@pytest.fixture
def kms(aws_environment):
    with mock_aws():
        yield boto3.client("kms", region_name=AWS_REGION)


def hmac_key(client) -> str:
    return client.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]


def test_secret_key_is_the_kms_mac_of_the_message(kms):
    key = hmac_key(kms)
    derived = derive_secret_key(kms_settings(key)).secret_key
    assert HEX_KEY.fullmatch(derived)
    assert derive_secret_key(kms_settings(key)).secret_key == derived  # the same at every start
    assert derive_secret_key(kms_settings(key, "homu/dev/SECRET_KEY/2")).secret_key != derived  # rotated
    assert derive_secret_key(kms_settings(hmac_key(kms))).secret_key != derived  # another key
    verified = kms.verify_mac(
        KeyId=key, Message=MESSAGE.encode(), MacAlgorithm="HMAC_SHA_256", Mac=bytes.fromhex(derived)
    )
    assert verified["MacValid"] is True


def test_local_secret_key_is_kept_without_kms():
    local = load_settings(
        {
            "DATABASE_URL": "postgresql://app@localhost/db",
            "REDIS_URL": "redis://localhost",
            "SECRET_KEY": SECRET_KEY,
        }
    )
    assert derive_secret_key(local) is local


def assert_one_line_failure(message: str, key_id: str, code: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert f"SECRET_KEY_KMS_KEY_ID ({key_id}): kms:GenerateMac failed with {code}" in message
    assert AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in message


def test_a_denied_call_names_the_key_and_the_code(aws_environment):
    """What KMS answers when the role lacks kms:GenerateMac (moto does not check IAM)."""
    key = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    denied = {
        "Error": {
            "Code": "AccessDeniedException",
            "Message": "User: arn:aws:sts::123456789012:assumed-role/homu-task/1 is not authorized\n"
            "to perform: kms:GenerateMac on this resource",
        }
    }
    session = botocore.session.get_session()
    session.register(
        "before-call.kms.GenerateMac",
        lambda **_: (AWSResponse("https://kms.invalid/", 400, {}, None), denied),
    )
    with pytest.raises(ConfigError) as caught:
        generate_secret_key(KmsSecretKey(key, MESSAGE, AWS_REGION), session)
    assert caught.value.variable == "SECRET_KEY_KMS_KEY_ID"
    assert_one_line_failure(str(caught.value), key, "AccessDeniedException: User: arn:aws:sts::")


class KmsServer:
    """moto as a KMS endpoint on a free port, for the app as a subprocess."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.server = ThreadedMotoServer("127.0.0.1", int(self.url.rsplit(":", 1)[1]), verbose=False)
        self.client = boto3.client(
            "kms",
            endpoint_url=self.url,
            region_name=AWS_REGION,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="module")
def kms_server():
    kms = KmsServer()
    kms.server.start()
    try:
        yield kms
    finally:
        kms.server.stop()


def aws_app_env(postgres, redis_server, tls_files, kms_server, key_id: str) -> dict:
    """The app's environment in AWS: no credential in it, IAM for Redis, SECRET_KEY from KMS."""
    return app_env(
        DATABASE_URL=database_url(postgres),
        DATABASE_PASSWORD=DB_PASSWORD,
        REDIS_URL=redis_iam_url(redis_server, tls_files[0]),
        REDIS_IAM_CACHE=REDIS_IAM_CACHE,
        SECRET_KEY_KMS_KEY_ID=key_id,
        SECRET_KEY_KMS_MESSAGE=MESSAGE,
        AWS_ENDPOINT_URL_KMS=kms_server.url,
        **AWS_ENV,
    )


def test_app_in_aws_mode(start_app, postgres, redis_server, tls_files, kms_server):
    """``python -m app`` derives SECRET_KEY with KMS and signs in to Redis as the IAM user, again
    after its connections are ended."""
    key = hmac_key(kms_server.client)
    with pytest.raises(redis.AuthenticationError):  # the server does not let anyone in as default
        redis.Redis(host=redis_server.host, port=redis_server.port).ping()
    redis_server.command("CLIENT", "KILL", "USER", REDIS_IAM_USER)  # none left from other tests
    app = start_app(aws_app_env(postgres, redis_server, tls_files, kms_server, key))
    assert app.wait_health(200).json()["redis"] == "ok"
    first = iam_clients(redis_server)
    assert first, "no connection signed in as the IAM user"
    for client in first.values():
        assert client["name"] == "homu-backend" and client["laddr"].endswith(f":{redis_server.tls_port}")

    assert redis_server.command("CLIENT", "KILL", "USER", REDIS_IAM_USER) == len(first)
    assert app.wait_health(200).json()["redis"] == "ok"
    second = iam_clients(redis_server)
    assert second and not second.keys() & first.keys()  # new connections, signed in again

    log = app.log()
    assert f"SECRET_KEY derived with KMS key {key}" in log
    assert f"redis rediss://{REDIS_IAM_USER}@" in log and f"(IAM auth for {REDIS_IAM_CACHE})" in log
    mac = kms_server.client.generate_mac(KeyId=key, Message=MESSAGE.encode(), MacAlgorithm="HMAC_SHA_256")
    assert mac["Mac"].hex() not in log
    assert "Traceback" not in log


@pytest.mark.parametrize("failure", ["missing key", "not an HMAC key", "no credentials"])
def test_kms_failure_stops_start_up_in_one_line(failure, postgres, redis_server, tls_files, kms_server):
    if failure == "missing key":
        key, code = hmac_key(kms_server.client)[:-12] + "000000000000", "NotFoundException"
    elif failure == "not an HMAC key":
        key, code = kms_server.client.create_key()["KeyMetadata"]["Arn"], "InvalidKeyUsageException"
    else:
        key, code = hmac_key(kms_server.client), "NoCredentialsError"
    env = aws_app_env(postgres, redis_server, tls_files, kms_server, key)
    if failure == "no credentials":
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("backend: configuration error: SECRET_KEY_KMS_KEY_ID (")
    assert_one_line_failure(lines[0], key, code)
