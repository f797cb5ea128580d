"""What both computes share: the data tier read from ``homu-data``'s state, a key, their groups, the
app's log group and a dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from cdktf import TerraformOutput
from constructs import Construct

from modules.dashboard import Dashboard, Graph, data_tier_graphs
from modules.kms import KeyUsers
from modules.monitoring import Monitoring, log_group
from modules.security_groups import SecurityGroups
from modules.settings import Settings
from modules.stacks.base import RemoteStateStack
from modules.stacks.data import DataStack, DataTier


class ComputeStack(RemoteStateStack):
    """One of the guide's computes on the shared data tier. Subclasses add the compute and its entry."""

    entry_kind: ClassVar[Literal["load_balancer", "host"]]
    # The backend's group; both computes can share one VPC, so the names differ.
    app_group_suffix: ClassVar[str]
    # The services that store the compute's data with the stack's key (images, volumes).
    storage_services: ClassVar[tuple[str, ...]]
    # The app's log group is <prefix>/<app_name>: both computes can run at once in one account.
    log_group_prefix: ClassVar[str]

    def __init__(self, scope: Construct, id_: str, *, settings: Settings, data: DataStack) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        self.data = DataTier.read(self.remote_state(data))
        self.key = self.stack_key(
            description="the compute's logs and storage",
            users=KeyUsers(log_groups=True, storage_services=self.storage_services),
        )
        self.app_logs = log_group(
            self,
            "app-logs",
            name=f"{self.log_group_prefix}/{s.app_name}",
            retention_days=s.log_retention_days,
            kms_key_arn=self.key.arn,
        )
        TerraformOutput(self, "log_group", value=self.app_logs.name)
        self.security_groups = SecurityGroups(
            self,
            "security-groups",
            vpc_id=self.data.vpc_id,
            entry_kind=self.entry_kind,
            entry_name=s.alb_name,
            app_group_name=f"{s.app_name}{self.app_group_suffix}",
            database_group_id=self.data.database_security_group_id,
            cache_group_id=self.data.cache_security_group_id,
            app_port=s.app_port,
            admin_cidr=s.admin_cidr,
            name_suffix=s.adoption.group_name_suffix if s.adoption else "",
        )
        self.monitoring = Monitoring(self, "monitoring", topic_arn=self.data.alert_topic_arn)

    def add_dashboard(self, graphs: Sequence[Graph]) -> Dashboard:
        """The stack's dashboard, ``homu-<environment>-<stack without homu->``: the compute's ``graphs``,
        then the data tier's; its name and console URL are outputs."""
        s = self.settings
        dashboard = Dashboard(
            self,
            "dashboard",
            name=f"homu-{s.environment}-{self.node.id.removeprefix('homu-')}",
            region=s.region,
            graphs=[
                *graphs,
                *data_tier_graphs(
                    database_identifier=s.db_identifier,
                    cache_group_id=s.redis_id,
                    cache_clusters=s.redis_num_cache_clusters,
                ),
            ],
        )
        TerraformOutput(self, "dashboard_name", value=dashboard.name)
        TerraformOutput(self, "dashboard_url", value=dashboard.url)
        return dashboard
