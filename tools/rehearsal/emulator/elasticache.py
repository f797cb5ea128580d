"""ElastiCache: replication groups with their member clusters, subnet groups that can be deleted, and
user groups (role-based access with IAM-authenticated users)."""

from __future__ import annotations

import re
from typing import Any


def patch_replication_groups() -> None:
    """A cluster-mode-disabled replication group gets its member cache clusters, and goes away on delete.

    moto builds the member ids of a replication group (``homu-redis-001``, ...) but creates no cache
    clusters behind them, so the provider's read-back (DescribeCacheClusters on each member) fails
    with CacheClusterNotFound; it also sizes the group from ``ReplicasPerNodeGroup`` only, ignoring
    ``NumCacheClusters`` (one node where production asks for two), and a deleted group stays in
    ``deleting`` forever, so ``destroy`` would wait for its 40-minute timeout. Members also get what
    DescribeCacheClusters reports (encryption, security groups, parameter group), and
    DeleteCacheSubnetGroup, which moto lacks, is added.
    """
    from moto.core.responses import EmptyResult
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    original_create = ElastiCacheBackend.create_replication_group
    original_delete = ElastiCacheBackend.delete_replication_group

    def create_replication_group(self, *args: Any, **kwargs: Any):
        disabled = (kwargs.get("cluster_mode") or "disabled") == "disabled"
        if disabled and not kwargs.get("replicas_per_node_group"):
            kwargs["replicas_per_node_group"] = max(int(kwargs.get("num_cache_clusters") or 1) - 1, 0)
        group = original_create(self, *args, **kwargs)
        members = group.node_groups[0]["node_group_members"] if group.cluster_mode == "disabled" else []
        for member in members:
            _create_member(self, group, member, auth_token=kwargs.get("auth_token"))
        return group

    def delete_replication_group(self, replication_group_id: str, retain_primary_cluster: bool | None):
        group = original_delete(self, replication_group_id, retain_primary_cluster)
        # AWS finishes the deletion in the background; the emulator finishes it at once.
        self.replication_groups.pop(replication_group_id, None)
        for cluster_id in [
            c
            for c, cluster in self.cache_clusters.items()
            if getattr(cluster, "replication_group_id", None) == replication_group_id
        ]:
            self.cache_clusters.pop(cluster_id)
        return group

    def delete_cache_subnet_group(self):
        name = self._get_param("CacheSubnetGroupName")
        backend = self.elasticache_backend
        if name not in backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        backend.cache_subnet_groups.pop(name)
        return EmptyResult()

    ElastiCacheBackend.create_replication_group = create_replication_group
    ElastiCacheBackend.delete_replication_group = delete_replication_group
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group


def _create_member(backend: Any, group: Any, member: dict[str, Any], *, auth_token: str | None) -> None:
    """The cache cluster behind one member id of ``group``, reported as AWS reports a member."""
    backend.create_cache_cluster(
        cache_cluster_id=member["cache_cluster_id"],
        replication_group_id=group.replication_group_id,
        az_mode="single-az",
        preferred_availability_zone=member.get("preferred_availability_zone"),
        num_cache_nodes=1,
        cache_node_type=group.cache_node_type,
        engine=group.engine,
        engine_version=group.engine_version,
        cache_parameter_group_name=group.cache_parameter_group_name,
        cache_subnet_group_name=group.cache_subnet_group_name,
        transit_encryption_enabled=group.transit_encryption_enabled,
        network_type=group.network_type,
        ip_discovery=group.ip_discovery,
        snapshot_name=None,
        preferred_maintenance_window=group.preferred_maintenance_window,
        port=group.port,
        notification_topic_arn=group.notification_topic_arn,
        auto_minor_version_upgrade=group.auto_minor_version_upgrade,
        snapshot_retention_limit=group.snapshot_retention_limit,
        snapshot_window=group.snapshot_window,
        auth_token=auth_token,
        outpost_mode=None,
        preferred_outpost_arn=None,
        preferred_availability_zones=None,
        cache_security_group_names=None,
        security_group_ids=group.security_group_ids,
        tags=None,
        snapshot_arns=None,
        preferred_outpost_arns=None,
        log_delivery_configurations=[],
        cache_node_ids_to_remove=None,
        cache_node_ids_to_reboot=None,
    )
    cluster = backend.cache_clusters[member["cache_cluster_id"]]
    # What DescribeCacheClusters reports for a member and moto leaves out; the provider reads the
    # group's encryption and security groups from its first member.
    cluster.at_rest_encryption_enabled = group.at_rest_encryption_enabled
    cluster.transit_encryption_mode = group.transit_encryption_mode or (
        "required" if group.transit_encryption_enabled else None
    )
    cluster.security_groups = [
        {"SecurityGroupId": sg, "Status": "active"} for sg in group.security_group_ids or []
    ]
    cluster.cache_parameter_group = {
        "CacheParameterGroupName": group.cache_parameter_group_name
        or f"default.redis{str(group.engine_version or '7').split('.')[0]}",
        "ParameterApplyStatus": "in-sync",
        "CacheNodeIdsToReboot": [],
    }


def patch_user_groups() -> None:
    """ElastiCache RBAC: user groups, their users and replication groups, as AWS keeps them.

    moto 5.2.5 has users but no user-group API (CreateUserGroup answers 500 NotImplemented and the
    provider retries it for minutes); it cannot list tags of a ``usergroup:`` ARN (InvalidARN); it
    reports a user created with ``AuthenticationMode.Type=no-password-required`` as that input value,
    where AWS reports the output enum ``no-password`` (so a configuration that names the input value
    plans an update again on AWS, and now on the emulator too); it keeps a replication group's
    ``UserGroupIds`` without checking them and ignores ``UserGroupIdsToAdd/Remove`` on modify; and
    it deletes a user whatever groups hold it.

    Added, with AWS's rules and faults: CreateUserGroup (known users, distinct user names, a user
    named ``default`` for redis), DescribeUserGroups (``creating``/``modifying`` become ``active`` at
    the first look, with the replication groups using the group), ModifyUserGroup, DeleteUserGroup
    (refused while a replication group uses it); DeleteUser takes the user out of its groups, and
    refuses a user named ``default`` that a group holds (DefaultUserAssociatedToUserGroup).
    """
    from moto.core.responses import ActionResult
    from moto.elasticache.exceptions import ElastiCacheException
    from moto.elasticache.models import ElastiCacheBackend, User
    from moto.elasticache.responses import ElastiCacheResponse

    def groups(backend: Any) -> dict[str, _UserGroup]:
        return backend.__dict__.setdefault("user_groups", {})

    def group_named(backend: Any, group_id: str) -> _UserGroup:
        if group_id not in groups(backend):
            raise ElastiCacheException("UserGroupNotFound", f"User group {group_id} not found.")
        return groups(backend)[group_id]

    def check_members(backend: Any, engine: str, user_ids: list[str]) -> None:
        for user_id in user_ids:
            if user_id not in backend.users:
                raise ElastiCacheException("UserNotFound", f"User {user_id} not found.")
        names = [backend.users[u].name for u in user_ids]
        if len(set(names)) < len(names):
            raise ElastiCacheException(
                "DuplicateUserName", "A user group cannot have two users with one name."
            )
        if engine == "redis" and "default" not in names:
            raise ElastiCacheException("DefaultUserRequired", "A user group needs a user named default.")

    def create_user_group(self):
        backend, group_id = self.elasticache_backend, self._get_param("UserGroupId")
        engine, user_ids = self._get_param("Engine", "").lower(), self._get_param("UserIds", [])
        if group_id in groups(backend):
            raise ElastiCacheException("UserGroupAlreadyExists", f"User group {group_id} already exists.")
        if engine not in ("redis", "valkey"):
            raise ElastiCacheException("InvalidParameterValue", f"Unknown engine {engine}.")
        check_members(backend, engine, user_ids)
        group = _UserGroup(backend, group_id, engine, user_ids)
        groups(backend)[group_id] = group
        for user_id in user_ids:
            backend.users[user_id].user_group_ids.append(group_id)
        if tags := self._get_param("Tags"):
            backend.tagging_service.tag_resource(group.arn, tags)
        return ActionResult(group)

    def describe_user_groups(self):
        backend, group_id = self.elasticache_backend, self._get_param("UserGroupId")
        found = [group_named(backend, group_id)] if group_id else list(groups(backend).values())
        for group in found:
            group.status = "active"  # AWS gets there in a minute or so; the emulator at once
        return ActionResult({"UserGroups": found})

    def modify_user_group(self):
        backend = self.elasticache_backend
        group = group_named(backend, self._get_param("UserGroupId"))
        added, removed = self._get_param("UserIdsToAdd", []), self._get_param("UserIdsToRemove", [])
        for user_id in removed:
            if user_id not in group.user_ids:
                raise ElastiCacheException("UserNotFound", f"User {user_id} is not in {group.user_group_id}.")
        members = [u for u in group.user_ids if u not in removed] + [
            u for u in added if u not in group.user_ids
        ]
        check_members(backend, group.engine, members)
        for user_id in set(group.user_ids) - set(members):
            backend.users[user_id].user_group_ids.remove(group.user_group_id)
        for user_id in set(members) - set(group.user_ids):
            backend.users[user_id].user_group_ids.append(group.user_group_id)
        group.user_ids, group.status = members, "modifying"
        return ActionResult(group)

    def delete_user_group(self):
        backend = self.elasticache_backend
        group = group_named(backend, self._get_param("UserGroupId"))
        if group.replication_groups:
            raise ElastiCacheException(
                "InvalidUserGroupState",
                f"User group {group.user_group_id} is used by {', '.join(group.replication_groups)}.",
            )
        for user_id in group.user_ids:
            backend.users[user_id].user_group_ids.remove(group.user_group_id)
        groups(backend).pop(group.user_group_id)
        backend.tagging_service.delete_all_tags_for_resource(group.arn)
        group.status = "deleting"
        return ActionResult(group)

    original_init = ElastiCacheBackend.__init__
    original_delete_user = ElastiCacheBackend.delete_user
    original_create_group = ElastiCacheBackend.create_replication_group
    original_delete_group = ElastiCacheBackend.delete_replication_group
    original_modify_group = ElastiCacheResponse.modify_replication_group

    def init(self, region_name: str, account_id: str) -> None:
        original_init(self, region_name, account_id)
        # Tags of a user group's ARN are listed like any other's.
        self.arn_regex = re.compile(
            r"^arn:aws:elasticache:.*:[0-9]*:(cluster|snapshot|subnetgroup|replicationgroup|user|usergroup):.*$"
        )

    def delete_user(self, user_id: str):
        user = self.users.get(user_id)
        if user is not None and user.user_group_ids:
            if user.name == "default":
                raise ElastiCacheException(
                    "DefaultUserAssociatedToUserGroup", f"User {user_id} is the default user of a user group."
                )
            for group_id in list(user.user_group_ids):
                groups(self)[group_id].user_ids.remove(user_id)
                user.user_group_ids.remove(group_id)
        return original_delete_user(self, user_id)

    def create_replication_group(self, *args: Any, **kwargs: Any):
        group_ids = kwargs.get("user_group_ids") or []
        if group_ids and kwargs.get("auth_token"):
            raise ElastiCacheException(
                "InvalidParameterCombination", "An AUTH token and user groups cannot be used together."
            )
        if group_ids and not kwargs.get("transit_encryption_enabled"):
            raise ElastiCacheException(
                "InvalidParameterCombination", "User groups require encryption in transit."
            )
        for group_id in group_ids:
            group_named(self, group_id)
        group = original_create_group(self, *args, **kwargs)
        for group_id in group_ids:
            groups(self)[group_id].replication_groups.append(group.replication_group_id)
        return group

    def delete_replication_group(self, replication_group_id: str, retain_primary_cluster: bool | None):
        group = original_delete_group(self, replication_group_id, retain_primary_cluster)
        for user_group in groups(self).values():
            if replication_group_id in user_group.replication_groups:
                user_group.replication_groups.remove(replication_group_id)
        return group

    def modify_replication_group(self):
        backend = self.elasticache_backend
        added = self._get_param("UserGroupIdsToAdd", [])
        removed = self._get_param("UserGroupIdsToRemove", [])
        for group_id in added + removed:
            group_named(backend, group_id)
        result = original_modify_group(self)
        group = backend.replication_groups[self._get_param("ReplicationGroupId")]
        for group_id in removed:
            if group_id in group.user_group_ids:
                group.user_group_ids.remove(group_id)
                groups(backend)[group_id].replication_groups.remove(group.replication_group_id)
        for group_id in added:
            if group_id not in group.user_group_ids:
                group.user_group_ids.append(group_id)
                groups(backend)[group_id].replication_groups.append(group.replication_group_id)
        return result

    def authentication(self) -> dict[str, Any]:
        # AWS reports the output enum (password | no-password | iam), not the input's no-password-required.
        kind = "no-password" if self.no_password_required else self.authentication_type
        return {
            "Type": "no-password" if kind == "no-password-required" else kind,
            "PasswordCount": len(self.passwords) if self.passwords else None,
        }

    ElastiCacheBackend.__init__ = init
    ElastiCacheBackend.delete_user = delete_user
    ElastiCacheBackend.create_replication_group = create_replication_group
    ElastiCacheBackend.delete_replication_group = delete_replication_group
    ElastiCacheResponse.modify_replication_group = modify_replication_group
    ElastiCacheResponse.create_user_group = create_user_group
    ElastiCacheResponse.describe_user_groups = describe_user_groups
    ElastiCacheResponse.modify_user_group = modify_user_group
    ElastiCacheResponse.delete_user_group = delete_user_group
    User.authentication = property(authentication)


class _UserGroup:
    """One user group; moto's serializer reads DescribeUserGroups' fields from these attributes."""

    def __init__(self, backend: Any, user_group_id: str, engine: str, user_ids: list[str]) -> None:
        self.user_group_id, self.engine, self.user_ids = user_group_id, engine, list(user_ids)
        self.status = "creating"
        self.minimum_engine_version = "6.0"
        self.replication_groups: list[str] = []
        self.serverless_caches: list[str] = []
        self.arn = f"arn:aws:elasticache:{backend.region_name}:{backend.account_id}:usergroup:{user_group_id}"
