"""ElastiCache Redis, cluster mode disabled: private, encrypted at rest and in transit, IAM sign-in."""

from __future__ import annotations

from constructs import Construct

from modules import aws
from modules.names import REDIS_PORT
from modules.policy import skip_check


class Cache(Construct):
    """A Redis replication group whose one user signs in with IAM, so no password exists anywhere.

    The app's user authenticates with a short-lived token it signs with its own role
    (``elasticache:Connect``); the ``default`` user every user group must contain is switched off.
    Terraform therefore holds no AUTH token, and rotating credentials is AWS's job (role sessions).
    """

    address: str  # the primary endpoint's host name (TLS on REDIS_PORT)
    arn: str  # the replication group, for elasticache:Connect
    user_id: str  # the IAM-enabled user the app signs in as (user name = user id, as AWS requires)
    user_arn: str  # for elasticache:Connect

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
        subnets_kind: str,
        security_group_id: str,
        kms_key_arn: str,
    ) -> None:
        super().__init__(scope, id_)
        # User ids are unique per account and region, like the group's own id they derive from.
        app_user = aws.elasticache_user.ElasticacheUser(
            self,
            "app-user",
            user_id=f"{replication_group_id}-app",
            user_name=f"{replication_group_id}-app",
            engine="REDIS",
            # Every key and channel, every command but the server-wide dangerous ones.
            access_string="on ~* &* +@all -@dangerous",
            authentication_mode=aws.elasticache_user.ElasticacheUserAuthenticationMode(type="iam"),
        )
        # Required in every user group; disabled, so nobody signs in without IAM.
        default_user = aws.elasticache_user.ElasticacheUser(
            self,
            "default-user",
            user_id=f"{replication_group_id}-default",
            user_name="default",
            engine="REDIS",
            access_string="off -@all",
            # Not authentication_mode "no-password-required": AWS reads that back as "no-password",
            # so every plan would show a change.
            no_password_required=True,
        )
        users = aws.elasticache_user_group.ElasticacheUserGroup(
            self,
            "users",
            user_group_id=f"{replication_group_id}-users",
            engine="REDIS",
            user_ids=[default_user.user_id, app_user.user_id],
        )
        subnets = aws.elasticache_subnet_group.ElasticacheSubnetGroup(
            self,
            "subnets",
            name=f"{replication_group_id}-subnets",
            subnet_ids=subnet_ids,
            description=f"{subnets_kind} of {replication_group_id}",
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
            user_group_ids=[users.user_group_id],
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
        self.arn = group.arn
        self.user_id = app_user.user_id
        self.user_arn = app_user.arn
