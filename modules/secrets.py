"""What a compute hands the app, and the permissions that make it usable (names from contract.json).

Terraform holds no credential and no secret value at all, so a role that may read the state or run
``terraform plan`` learns nothing it could log in with:

* PostgreSQL: the app signs in as its own database user with a 15-minute IAM token per connection
  (RDS IAM authentication, ``rds-db:connect``), so RDS's weekly rotation of the master password
  never reaches it. The master password is the one secret: RDS generates, keeps and rotates it in
  its own Secrets Manager secret, and only the one-shot ``app.dbinit`` container that makes the
  app's user before each start gets it (``DATABASE_PASSWORD``, read by the ECS agent or the host).
* Redis has no password: the app signs a 15-minute IAM token per connection with its own role
  (ElastiCache IAM authentication, ``elasticache:Connect``).
* ``SECRET_KEY`` is never stored: the app derives it at start as an HMAC of a fixed message under a
  KMS key whose material never leaves KMS (``kms:GenerateMac``, which no read-only role has).
* The URLs hold no credential, so they are plain environment values.

A Secrets Manager secret version in Terraform would be read back (``GetSecretValue``) by every
``terraform plan``, write-only or not; that is why nothing here writes one.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules import iam
from modules.names import POSTGRES_PORT, REDIS_PORT


@dataclass(frozen=True)
class SecretReference:
    """Where one environment variable's value lives: a secret ARN, optionally a JSON key in it."""

    secret_arn: str
    json_key: str | None = None

    @property
    def value_from(self) -> str:
        """The form ECS ``secrets[].valueFrom`` expects."""
        return f"{self.secret_arn}:{self.json_key}::" if self.json_key else self.secret_arn


@dataclass(frozen=True)
class AppEnvironment:
    """The data tier as the app sees it: plain variables, its one secret, and the IAM statements
    that let a compute use them."""

    database_url: str  # postgresql+asyncpg://APP_USER@HOST:PORT/DB, no password: IAM tokens
    database_app_user: str  # the app's database user, which app.dbinit makes
    database_connect_arn: str  # rds-db:connect's resource for that user
    database_admin_url: str  # postgresql+asyncpg://MASTER@HOST:PORT/DB, for app.dbinit only
    database_password_secret_arn: str  # RDS's own master secret (JSON, key ``password``)
    secrets_key_arn: str  # the key RDS's secret is encrypted with
    redis_url: str  # rediss://USER@HOST:PORT/DB, no password: USER signs in with IAM
    cache_id: str  # the replication group the IAM token is signed for
    cache_arn: str
    cache_user_arn: str
    secret_key_key_arn: str  # the HMAC key SECRET_KEY is derived with
    secret_key_message: str  # what is MACed; a new message is a new SECRET_KEY

    @property
    def variables(self) -> dict[str, str]:
        """Plain environment values: none of them is a credential."""
        return {
            "DATABASE_URL": self.database_url,
            "DATABASE_AUTH": "iam",
            "REDIS_URL": self.redis_url,
            "REDIS_IAM_CACHE": self.cache_id,
            "SECRET_KEY_KMS_KEY_ID": self.secret_key_key_arn,
            "SECRET_KEY_KMS_MESSAGE": self.secret_key_message,
        }

    @property
    def secrets(self) -> dict[str, SecretReference]:
        """The app's secrets: none, every credential it uses is signed per connection."""
        return {}

    @property
    def init_variables(self) -> dict[str, str]:
        """What ``app.dbinit`` is handed beside the master password (contract.json database_init)."""
        return {"DATABASE_URL": self.database_admin_url, "DATABASE_APP_USER": self.database_app_user}

    @property
    def init_secrets(self) -> dict[str, SecretReference]:
        return {"DATABASE_PASSWORD": SecretReference(self.database_password_secret_arn, "password")}

    @property
    def read_statements(self) -> list[dict]:
        """What reads the master secret for app.dbinit (the ECS execution role, the EC2 host)."""
        return [
            iam.statement(
                ["secretsmanager:GetSecretValue"],
                [self.database_password_secret_arn],
                sid="ReadTheMasterPassword",
            ),
            # The data key also encrypts logs, the cache and the topic: decrypt only through Secrets Manager.
            iam.statement(
                ["kms:Decrypt"],
                [self.secrets_key_arn],
                sid="DecryptTheSecrets",
                Condition={"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
            ),
        ]

    @property
    def runtime_statements(self) -> list[dict]:
        """What the running app calls with its own role (the ECS task role, the EC2 host)."""
        return [
            iam.statement(["rds-db:connect"], [self.database_connect_arn], sid="SignInToPostgres"),
            # AWS checks Connect on both the cache and the user the token names.
            iam.statement(
                ["elasticache:Connect"], [self.cache_arn, self.cache_user_arn], sid="SignInToRedis"
            ),
            iam.statement(
                ["kms:GenerateMac"],
                [self.secret_key_key_arn],
                sid="DeriveTheSecretKey",
                Condition={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}},
            ),
        ]


def database_url(*, username: str, host: str, db_name: str) -> str:
    return f"postgresql+asyncpg://{username}@{host}:{POSTGRES_PORT}/{db_name}"


def redis_url(*, user: str, host: str) -> str:
    # rediss:// because the cache only speaks TLS (IAM authentication requires it).
    return f"rediss://{user}@{host}:{REDIS_PORT}/0"
