"""AWS at run time, with credentials from botocore's default chain (the ECS task role, the EC2 instance
role): IAM auth tokens for PostgreSQL (RDS) and Redis (ElastiCache), and SECRET_KEY derived from a KMS
HMAC key.

No credential is stored anywhere. A token is signed locally for each new connection, so nothing the
app holds can go stale when a password rotates; the secret key is computed by KMS once at start,
from a key that never leaves KMS.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from urllib.parse import urlencode

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.model import ServiceId
from botocore.signers import RequestSigner
from redis.credentials import CredentialProvider

from app.config import SECRET_KEY_KMS_KEY_ID, ConfigError, KmsSecretKey, RdsIam, RedisIam, Settings

TOKEN_EXPIRES = 900  # seconds: an IAM auth token is valid for 15 minutes, checked at AUTH only
MAC_ALGORITHM = "HMAC_SHA_256"
# Start-up must not hang on KMS: a few bounded attempts, then one line and exit.
KMS_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
_KMS_EXPECTED = "an HMAC_256 KMS key (KeyUsage GENERATE_VERIFY_MAC) on which this role has kms:GenerateMac"


class ElastiCacheIAMProvider(CredentialProvider):
    """The user id and a freshly signed IAM auth token, for every new Redis connection.

    The token is a SigV4-presigned ``GET https://CACHE_ID/?Action=connect&User=USER_ID`` for the
    service ``elasticache``, without its scheme. It is only checked when a connection signs in, so an
    open connection outlives it; ElastiCache closes IAM connections after 12 hours, and redis-py then
    reconnects, which signs a new one.
    """

    def __init__(self, iam: RedisIam, session: botocore.session.Session | None = None) -> None:
        self.iam = iam
        self.session = session or botocore.session.get_session()
        # One lookup at a time: the first may fetch the role's credentials over HTTP, and the
        # session keeps them (botocore refreshes them before they expire).
        self._lookup = threading.Lock()

    def token(self) -> str:
        with self._lookup:
            credentials = self.session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        signer = RequestSigner(
            ServiceId("elasticache"),
            self.iam.region,
            "elasticache",
            "v4",
            credentials,
            self.session.get_component("event_emitter"),
        )
        query = urlencode({"Action": "connect", "User": self.iam.user})
        request = {
            "method": "GET",
            "url": f"https://{self.iam.cache_id}/?{query}",
            "body": {},
            "headers": {},
            "context": {},
        }
        url = signer.generate_presigned_url(
            request, operation_name="connect", expires_in=TOKEN_EXPIRES, region_name=self.iam.region
        )
        return url.removeprefix("https://")  # ElastiCache takes the signed URL without its scheme

    def get_credentials(self) -> tuple[str, str]:
        return self.iam.user, self.token()

    async def get_credentials_async(self) -> tuple[str, str]:
        # In a thread: a credential lookup or refresh is blocking HTTP, which must not stall the loop.
        return await asyncio.to_thread(self.get_credentials)


class RdsIamToken:
    """A freshly signed RDS IAM auth token for every new PostgreSQL connection: asyncpg calls this
    object (its ``password``) once per connection it opens.

    The token is a SigV4-presigned ``HOST:PORT/?Action=connect&DBUser=USER`` for the service
    ``rds-db``, valid for 15 minutes at sign-in; an open connection outlives it.
    """

    def __init__(self, iam: RdsIam, session: botocore.session.Session | None = None) -> None:
        self.iam = iam
        # Signing is local: the client makes no request, it only holds the signer and credentials.
        self._client = (session or botocore.session.get_session()).create_client(
            "rds", region_name=iam.region
        )
        self._lookup = threading.Lock()

    def token(self) -> str:
        with self._lookup:  # the first call may fetch the role's credentials over HTTP
            return self._client.generate_db_auth_token(
                DBHostname=self.iam.host, Port=self.iam.port, DBUsername=self.iam.user, Region=self.iam.region
            )

    async def __call__(self) -> str:
        return await asyncio.to_thread(self.token)


def generate_secret_key(kms: KmsSecretKey, session: botocore.session.Session | None = None) -> str:
    """Hex of KMS GenerateMac(HMAC_SHA_256) over the message; ConfigError (one line) if KMS fails."""
    client = (session or botocore.session.get_session()).create_client(
        "kms", region_name=kms.region, config=KMS_CONFIG
    )
    try:
        response = client.generate_mac(
            KeyId=kms.key_id, Message=kms.message.encode(), MacAlgorithm=MAC_ALGORITHM
        )
        return response["Mac"].hex()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        detail = " ".join(str(error.get("Message", "")).split())  # one line, whatever AWS sent
        failure = f"{error.get('Code') or 'an error'}{f': {detail}' if detail else ''}"
    except BotoCoreError as exc:  # no credentials, KMS unreachable, timeouts
        failure = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    finally:
        client.close()
    raise ConfigError(
        SECRET_KEY_KMS_KEY_ID, f"({kms.key_id}): kms:GenerateMac failed with {failure}", _KMS_EXPECTED
    )


def derive_secret_key(settings: Settings) -> Settings:
    """The settings with SECRET_KEY from KMS when SECRET_KEY_KMS_* say so; otherwise unchanged."""
    if settings.secret_key_kms is None:
        return settings
    return replace(settings, secret_key=generate_secret_key(settings.secret_key_kms))
