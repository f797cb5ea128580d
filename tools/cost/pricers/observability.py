"""CloudWatch alarms, dashboards and log groups (ingestion by what writes to the group, storage by
retention)."""

from __future__ import annotations

import json
from typing import Any

from tools.cost.model import Line, Unpriced
from tools.cost.pricers.context import Context


def price_alarm(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    queries = body.get("metric_query") or []
    metrics = sum(1 for q in queries if q.get("metric")) or 1
    high_resolution = 0 < int(body.get("period", 60) or 60) < 60
    key = "cloudwatch_alarm_high_resolution_month" if high_resolution else "cloudwatch_alarm_month"
    label = "high-resolution" if high_resolution else "standard"
    return [
        ctx.prices.line(
            f"aws_cloudwatch_metric_alarm.{name}",
            f"alarm {body.get('alarm_name', name)} ({label})",
            metrics,
            "alarm-metric-mo",
            key,
        )
    ]


def price_dashboard(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    return [
        ctx.prices.line(
            f"aws_cloudwatch_dashboard.{name}",
            # Free tiers are per account, not per stack (NOT_PRICED): the dashboard is priced in full.
            f"dashboard {body.get('dashboard_name', name)} (an account's first three are free)",
            1,
            "dashboard-mo",
            "cloudwatch_dashboard_month",
        )
    ]


def _awslogs_groups(task: dict[str, Any]) -> list[str]:
    """The awslogs-group option of each container of a task definition (literal or ${...} reference)."""
    try:
        containers = json.loads(task.get("container_definitions") or "[]")
    except (TypeError, ValueError):
        return []
    return [
        str(((c.get("logConfiguration") or {}).get("options") or {}).get("awslogs-group"))
        for c in containers
        if isinstance(c, dict)
    ]


def price_log_group(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_cloudwatch_log_group.{name}"
    if body.get("log_group_class", "STANDARD") != "STANDARD":
        raise Unpriced(f"log group class {body['log_group_class']} is not priced")
    group = body.get("name")
    flow = any(
        ctx.stack.refers_to(f.get("log_destination"), "aws_cloudwatch_log_group", name)
        or (group and f.get("log_group_name") == group)
        for f in ctx.stack.resources("aws_flow_log").values()
    )
    app = any(
        value == group or ctx.stack.refers_to(value, "aws_cloudwatch_log_group", name)
        for task in ctx.stack.resources("aws_ecs_task_definition").values()
        for value in _awslogs_groups(task)
    )
    # The EC2 host's containers log through Docker's awslogs driver, configured in its user data.
    host = any(
        ctx.stack.refers_to(instance.get("user_data"), "aws_cloudwatch_log_group", name)
        for instance in ctx.stack.resources("aws_instance").values()
    )
    waf = any(
        ctx.stack.refers_to(c.get("log_destination_configs"), "aws_cloudwatch_log_group", name)
        for c in ctx.stack.resources("aws_wafv2_web_acl_logging_configuration").values()
    )
    role, gb = (
        ("VPC flow logs", ctx.assume["log_gb_flow"])
        if flow
        else ("WAF logs", ctx.assume["log_gb_waf"])
        if waf
        else ("ECS task logs", ctx.assume["log_gb_app"])
        if app
        else ("EC2 host's container logs", ctx.assume["log_gb_app"])
        if host
        else ("other logs", ctx.assume["log_gb_other"])
    )
    retention_days = int(body.get("retention_in_days", 0) or 0)
    months = retention_days / (365 / 12) if retention_days else ctx.assume["log_retention_months_if_unset"]
    return [
        ctx.prices.line(
            address, f"log ingestion {group or name} ({role}, {gb:g} GB)", gb, "GB", "logs_ingest_gb"
        ),
        ctx.prices.line(
            address,
            f"log storage ({retention_days or 'no'}-day retention)",
            gb * months,
            "GB-mo",
            "logs_storage_gb_month",
        ),
    ]
