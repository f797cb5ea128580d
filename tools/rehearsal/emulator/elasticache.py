"""ElastiCache: replication groups with their member clusters, and subnet groups that can be deleted."""

from __future__ import annotations

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
