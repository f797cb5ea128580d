"""ElastiCache: replication groups and stand-alone clusters, by node hours."""

from __future__ import annotations

from typing import Any

from tools.cost.model import Line
from tools.cost.pricers.context import Context


def price_elasticache_group(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    engine = body.get("engine", "redis")
    node_type = body.get("node_type")
    if body.get("num_node_groups") is not None:
        nodes = int(body["num_node_groups"]) * (1 + int(body.get("replicas_per_node_group", 0) or 0))
    else:
        nodes = int(body.get("num_cache_clusters", 1) or 1)
    return _node_hours(ctx, f"aws_elasticache_replication_group.{name}", engine, node_type, nodes)


def price_elasticache_cluster(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    if body.get("replication_group_id"):
        return []  # a member of a replication group, priced there
    engine, node_type = body.get("engine", "redis"), body.get("node_type")
    nodes = int(body.get("num_cache_nodes", 1) or 1)
    return _node_hours(ctx, f"aws_elasticache_cluster.{name}", engine, node_type, nodes)


def _node_hours(ctx: Context, address: str, engine: str, node_type: str | None, nodes: int) -> list[Line]:
    """A month of ``nodes`` cache nodes, whether a replication group or a single cluster runs them."""
    return [
        ctx.prices.line(
            address,
            f"ElastiCache {engine} {node_type} x {nodes} node(s)",
            nodes * ctx.hours,
            "node-h",
            f"elasticache_node_hour:{engine}:{node_type}",
        )
    ]
