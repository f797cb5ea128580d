"""ElastiCache Redis, cluster mode disabled: private, encrypted at rest and in transit, AUTH on."""

from __future__ import annotations

from constructs import Construct

from modules import aws
from modules.names import REDIS_PORT
from modules.policy import skip_check


class Cache(Construct):
    """A Redis replication group and the Secrets Manager secret that holds its AUTH token.

    ElastiCache has no write-only token attribute and the AWS provider has no generator that is
    stable between plans, so the token comes from Secrets Manager's password generator, is written
    once into the secret, and the group reads it from there. It does live in the (encrypted,
    access-controlled) state; rotate it with ``terraform apply -replace`` on the secret version.
    """

    address: str  # the primary endpoint's host name (TLS on REDIS_PORT)
    token_secret_arn: str  # the secret holding the AUTH token, for the app's REDIS_PASSWORD

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        replication_group_id: str,
        node_type: str,
        engine_version: str,
        cache_clusters: int,
        subnet_ids: list[str],
        security_group_id: str,
        token_secret_name: str,
        secret_recovery_days: int,
        kms_key_arn: str,
    ) -> None:
        super().__init__(scope, id_)
        token = aws.data_aws_secretsmanager_random_password.DataAwsSecretsmanagerRandomPassword(
            self, "token-draw", password_length=64, exclude_punctuation=True
        )
        token_secret = aws.secretsmanager_secret.SecretsmanagerSecret(
            self,
            "token",
            name=token_secret_name,
            recovery_window_in_days=secret_recovery_days,
            kms_key_id=kms_key_arn,
            description=f"AUTH token of {replication_group_id}",
        )
        skip_check(
            token_secret,
            "CKV2_AWS_57",
            "an AUTH token change must be applied to the replication "
            "group in the same step; it is rotated with terraform apply -replace (README 'Secrets')",
        )
        stored = aws.secretsmanager_secret_version.SecretsmanagerSecretVersion(
            self,
            "token-value",
            secret_id=token_secret.id,
            secret_string=token.random_password,
            lifecycle={"ignore_changes": ["secret_string"]},
        )
        subnets = aws.elasticache_subnet_group.ElasticacheSubnetGroup(
            self,
            "subnets",
            name=f"{replication_group_id}-subnets",
            subnet_ids=subnet_ids,
            description=f"Private subnets of {replication_group_id}",
        )
        replicated = cache_clusters > 1
        group = aws.elasticache_replication_group.ElasticacheReplicationGroup(
            self,
            "group",
            replication_group_id=replication_group_id,
            description=f"{replication_group_id}: cache and sessions",
            engine="redis",
            engine_version=engine_version,
            node_type=node_type,
            port=REDIS_PORT,
            num_cache_clusters=cache_clusters,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group_id],
            at_rest_encryption_enabled="true",  # strings in provider 5.x, not booleans
            kms_key_id=kms_key_arn,
            transit_encryption_enabled=True,
            # The stored token, not a fresh draw, so a replaced group keeps matching the secret.
            auth_token=stored.secret_string,
            auto_minor_version_upgrade="true",
            snapshot_retention_limit=7 if replicated else 1,
            snapshot_window="16:00-17:00",
            maintenance_window="sun:19:30-sun:20:30",
        )
        if not replicated:
            skip_check(
                group,
                "CKV2_AWS_50",
                "one node outside production (redis_num_cache_clusters); "
                "prod runs a replica with automatic failover",
            )
        self.address = group.primary_endpoint_address
        self.token_secret_arn = token_secret.arn
