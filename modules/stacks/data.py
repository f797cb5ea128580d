"""``homu-data``: the network and the data tier both computes share, and what it publishes to them."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, get_origin, get_type_hints

from cdktf import Annotations, DataTerraformRemoteStateS3, TerraformOutput, TerraformStack
from constructs import Construct

from modules.cache import Cache
from modules.database import Database
from modules.existing_network import ExistingNetwork
from modules.kms import KeyUsers, MacKey
from modules.monitoring import AlertTopic, Monitoring
from modules.names import DATA_STACK, host_role_name, task_role_name
from modules.network import Network
from modules.runtime_roles import RuntimeRoles
from modules.secrets import AppEnvironment, database_url, redis_url
from modules.security_groups import DataTierGroups
from modules.settings import Settings
from modules.stacks.base import RemoteStateStack


@dataclass(frozen=True)
class DataTier:
    """What ``homu-data`` publishes as outputs (one per field, by the field's name; ``app``'s fields
    at the same level) and a compute reads back from its state: a contract of plain names a plan
    reviewer can read."""

    vpc_id: str
    public_subnet_ids: list[str]
    private_subnet_ids: list[str]
    private_route_table_ids: list[str]  # for the NAT routes of a compute in private subnets
    database_security_group_id: str  # a compute adds the rule that admits its own backend
    cache_security_group_id: str
    alert_topic_arn: str
    # The app's identities (modules/runtime_roles.py): each compute attaches its permissions to its own.
    task_role_name: str
    task_role_arn: str
    host_role_name: str
    app: AppEnvironment  # what the app is handed

    def publish(self, stack: TerraformStack) -> None:
        for name, value in _flat(self).items():
            TerraformOutput(stack, name, value=value)

    @classmethod
    def read(cls, remote: DataTerraformRemoteStateS3) -> DataTier:
        return _read(cls, remote)


def _flat(record: Any) -> dict[str, Any]:
    """A dataclass's fields by name, a nested dataclass's fields at the same level."""
    flat: dict[str, Any] = {}
    for field in fields(record):
        value = getattr(record, field.name)
        flat.update(_flat(value) if is_dataclass(value) else {field.name: value})
    return flat


def _read(cls: type, remote: DataTerraformRemoteStateS3) -> Any:
    """``cls`` from the outputs ``_flat`` publishes, read from the producer's state."""
    values = {}
    for name, hint in get_type_hints(cls).items():
        if is_dataclass(hint):
            values[name] = _read(hint, remote)
        elif get_origin(hint) is list:
            values[name] = remote.get_list(name)
        else:
            values[name] = remote.get_string(name)
    return cls(**values)


class DataStack(RemoteStateStack):
    """Network, PostgreSQL, Redis, their groups, keys and alarms, and the alert topic."""

    def __init__(self, scope: Construct, id_: str = DATA_STACK, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        key = self.stack_key(
            description="flow logs, database logs, RDS's secret, alerts, the cache and the database",
            users=KeyUsers(
                log_groups=True, topic_publishers=("cloudwatch.amazonaws.com", "events.rds.amazonaws.com")
            ),
        )
        network = self._network(s, key.arn)
        groups = DataTierGroups(
            self,
            "security-groups",
            vpc_id=network.vpc_id,
            database_name=s.db_identifier,
            cache_name=s.redis_id,
            name_suffix=s.adoption.group_name_suffix if s.adoption else "",
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
            monitoring_interval=s.db_monitoring_interval,
            multi_az=s.db_multi_az,
            deletion_protection=s.deletion_protection,
            skip_final_snapshot=s.db_skip_final_snapshot,
            subnet_ids=network.data_subnet_ids,
            subnets_kind=network.data_subnets_kind,
            security_group_id=groups.database,
            log_retention_days=s.log_retention_days,
            kms_key_arn=key.arn,
            kms_key_id=key.key_id,
            region=s.region,
            storage_kms_key_arn=s.adoption.database_kms_key_id if s.adoption else None,
        )
        cache = Cache(
            self,
            "cache",
            replication_group_id=s.redis_id,
            node_type=s.redis_node_type,
            engine_version=s.redis_engine_version,
            cache_clusters=s.redis_num_cache_clusters,
            subnet_ids=network.data_subnet_ids,
            subnets_kind=network.data_subnets_kind,
            security_group_id=groups.cache,
            kms_key_arn=key.arn,
        )
        roles = RuntimeRoles(
            self,
            "runtime-roles",
            task_role_name=task_role_name(s.task_family),
            host_role_name=host_role_name(s.app_name),
            region=s.region,
        )
        secret_key = MacKey(
            self,
            "secret-key",
            alias=f"homu-{s.environment}-secret-key",
            description="derives the app's SECRET_KEY (kms:GenerateMac); nothing stores it",
            region=s.region,
            deletion_window_days=s.kms_deletion_window_days,
            mac_role_ids=tuple(roles.unique_ids),
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
        monitoring.notify_database_events(database.identifier, database.parameter_group_name)
        monitoring.watch_cache(s.redis_id, s.redis_num_cache_clusters)

        DataTier(
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            private_subnet_ids=network.private_subnet_ids,
            private_route_table_ids=network.private_route_table_ids,
            database_security_group_id=groups.database,
            cache_security_group_id=groups.cache,
            alert_topic_arn=topic.topic_arn,
            task_role_name=roles.task_role_name,
            task_role_arn=roles.task_role_arn,
            host_role_name=roles.host_role_name,
            app=AppEnvironment(
                database_url=database_url(
                    username=s.db_app_username, host=database.address, db_name=s.db_name
                ),
                database_app_user=s.db_app_username,
                database_connect_arn=database.connect_arn(s.db_app_username),
                database_admin_url=database_url(
                    username=s.db_username, host=database.address, db_name=s.db_name
                ),
                database_password_secret_arn=database.master_secret_arn,
                secrets_key_arn=key.arn,
                redis_url=redis_url(user=cache.user_id, host=cache.address),
                cache_id=s.redis_id,
                cache_arn=cache.arn,
                cache_user_arn=cache.user_arn,
                secret_key_key_arn=secret_key.arn,
                secret_key_message=f"{s.secret_prefix}/{s.environment}/SECRET_KEY/{s.secret_key_generation}",
            ),
        ).publish(self)
        TerraformOutput(self, "database_endpoint", value=database.address)
        TerraformOutput(self, "redis_endpoint", value=cache.address)

    def _network(self, s: Settings, key_arn: str) -> Network | ExistingNetwork:
        """The project's own VPC, or the one ``existing_network`` names."""
        name = f"homu-{s.environment}"
        if s.existing_network is None:
            return Network(
                self,
                "network",
                name=name,
                cidr=s.vpc_cidr,
                region=s.region,
                zone_count=s.availability_zones,
                flow_log_retention_days=s.log_retention_days,
                kms_key_arn=key_arn,
                admin_cidr=s.admin_cidr,
            )
        if not s.existing_network.private_subnets:
            Annotations.of(self).add_warning(
                f"{self.node.id}: existing_network has no private subnets, so the database and cache sit "
                "in public subnets: no public endpoint (RDS publicly_accessible false; ElastiCache has "
                "none) and security groups that admit only the app's group are what protect them; the "
                "Fargate tasks get public IPs to reach ECR, Secrets Manager and CloudWatch Logs "
                "(docs/existing-network.md)"
            )
        return ExistingNetwork(
            self,
            "network",
            network=s.existing_network,
            name=name,
            region=s.region,
            flow_log_retention_days=s.log_retention_days,
            kms_key_arn=key_arn,
        )
