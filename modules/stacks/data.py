"""``homu-data``: the network and the data tier both computes share, and what it publishes to them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import get_origin, get_type_hints

from cdktf import DataTerraformRemoteStateS3, Fn, TerraformOutput, TerraformStack
from constructs import Construct

from modules.cache import Cache
from modules.database import Database
from modules.kms import KeyUsers
from modules.monitoring import AlertTopic, Monitoring
from modules.names import DATA_STACK, POSTGRES_PORT, REDIS_PORT
from modules.network import Network
from modules.secrets import JSON_KEYS, AppSecrets, SecretAccess
from modules.security_groups import DataTierGroups
from modules.settings import Settings
from modules.stacks.base import RemoteStateStack


@dataclass(frozen=True)
class DataTier:
    """What ``homu-data`` publishes as outputs (one per field, by the field's name) and a compute
    reads back from its state: a contract of plain names a plan reviewer can read."""

    vpc_id: str
    public_subnet_ids: list[str]
    private_subnet_ids: list[str]
    private_route_table_ids: list[str]  # for the NAT routes of a compute in private subnets
    database_security_group_id: str  # a compute adds the rule that admits its own backend
    cache_security_group_id: str
    alert_topic_arn: str
    data_key_arn: str  # encrypts the secrets: reading them needs kms:Decrypt on it
    app_secret_arns: dict[str, str]  # each variable of modules.secrets.JSON_KEYS and its secret

    def publish(self, stack: TerraformStack) -> None:
        for field in fields(self):
            TerraformOutput(stack, field.name, value=getattr(self, field.name))

    @classmethod
    def read(cls, remote: DataTerraformRemoteStateS3) -> DataTier:
        values = {}
        for name, hint in get_type_hints(cls).items():
            if get_origin(hint) is list:
                values[name] = remote.get_list(name)
            elif get_origin(hint) is dict:
                values[name] = {key: Fn.lookup(remote.get(name), key) for key in JSON_KEYS}
            else:
                values[name] = remote.get_string(name)
        return cls(**values)

    @property
    def secrets(self) -> SecretAccess:
        return SecretAccess.from_arns(self.app_secret_arns, self.data_key_arn)


class DataStack(RemoteStateStack):
    """Network, PostgreSQL, Redis, their groups, secrets and alarms, and the alert topic."""

    def __init__(self, scope: Construct, id_: str = DATA_STACK, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        key = self.stack_key(
            description="flow logs, database logs, secrets, alerts, the cache and the database",
            users=KeyUsers(
                log_groups=True, topic_publishers=("cloudwatch.amazonaws.com", "events.rds.amazonaws.com")
            ),
        )
        network = Network(
            self,
            "network",
            name=f"homu-{s.environment}",
            cidr=s.vpc_cidr,
            region=s.region,
            zone_count=s.availability_zones,
            flow_log_retention_days=s.log_retention_days,
            kms_key_arn=key.arn,
            admin_cidr=s.admin_cidr,
        )
        groups = DataTierGroups(
            self,
            "security-groups",
            vpc_id=network.vpc_id,
            database_name=s.db_identifier,
            cache_name=s.redis_id,
        )
        database = Database(
            self,
            "database",
            identifier=s.db_identifier,
            db_name=s.db_name,
            username=s.db_username,
            instance_class=s.db_instance_class,
            allocated_storage=s.db_allocated_storage,
            max_allocated_storage=s.db_max_allocated_storage,
            backup_retention_days=s.db_backup_retention_days,
            multi_az=s.db_multi_az,
            deletion_protection=s.deletion_protection,
            subnet_ids=network.private_subnet_ids,
            security_group_id=groups.database,
            log_retention_days=s.log_retention_days,
            kms_key_arn=key.arn,
            region=s.region,
        )
        cache = Cache(
            self,
            "cache",
            replication_group_id=s.redis_id,
            node_type=s.redis_node_type,
            engine_version=s.redis_engine_version,
            cache_clusters=s.redis_num_cache_clusters,
            subnet_ids=network.private_subnet_ids,
            security_group_id=groups.cache,
            token_secret_name=f"{s.secret_prefix}/redis-auth-token",
            secret_recovery_days=s.secret_recovery_days,
            kms_key_arn=key.arn,
        )
        secrets = AppSecrets(
            self,
            "secrets",
            prefix=s.secret_prefix,
            database_url=f"postgresql+asyncpg://{s.db_username}@{database.address}:{POSTGRES_PORT}/{s.db_name}",
            # rediss:// because the cache only speaks TLS.
            redis_url=f"rediss://{cache.address}:{REDIS_PORT}/0",
            database_credentials_arn=database.master_secret_arn,
            redis_token_arn=cache.token_secret_arn,
            recovery_days=s.secret_recovery_days,
            kms_key_arn=key.arn,
        )
        topic = AlertTopic(
            self,
            "alerts",
            name=f"homu-{s.environment}-alerts",
            kms_key_arn=key.arn,
            alert_email=s.alert_email,
        )
        monitoring = Monitoring(self, "monitoring", topic_arn=topic.topic_arn)
        monitoring.watch_database(s.db_identifier)
        monitoring.notify_database_events(database.identifier)
        monitoring.watch_cache(s.redis_id, s.redis_num_cache_clusters)

        DataTier(
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            private_route_table_ids=network.private_route_table_ids,
            database_security_group_id=groups.database,
            cache_security_group_id=groups.cache,
            alert_topic_arn=topic.topic_arn,
            data_key_arn=key.arn,
            app_secret_arns=secrets.secret_arns,
        ).publish(self)
        TerraformOutput(self, "database_endpoint", value=database.address)
        TerraformOutput(self, "database_master_secret_arn", value=database.master_secret_arn)
        TerraformOutput(self, "redis_endpoint", value=cache.address)
        TerraformOutput(
            self,
            "secret_arns",
            value={name: ref.value_from for name, ref in secrets.access.variables.items()},
        )
