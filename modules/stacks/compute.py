"""What both computes share: the data tier read from ``homu-data``'s state, a key, their groups."""

from __future__ import annotations

from typing import ClassVar, Literal

from constructs import Construct

from modules.kms import KeyUsers
from modules.monitoring import Monitoring
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
    # Whether the stack writes encrypted log groups of its own.
    has_log_groups: ClassVar[bool]

    def __init__(self, scope: Construct, id_: str, *, settings: Settings, data: DataStack) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        self.data = DataTier.read(self.remote_state(data))
        self.key = self.stack_key(
            description="the compute's logs and storage",
            users=KeyUsers(log_groups=self.has_log_groups, storage_services=self.storage_services),
        )
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
