"""The usage the Terraform JSON does not say, and the rules the report states with every estimate."""

from __future__ import annotations

from tools.cost.model import CostError

# Every number here is printed with the report; ``--assume KEY=NUMBER`` changes one.
ASSUMPTIONS: dict[str, tuple[float, str]] = {
    "hours_per_month": (730, "hours in a month (AWS's own convention: 24 x 365 / 12)"),
    "alb_lcu": (1.0, "LCUs an ALB consumes on average"),
    "nat_gb_per_gateway": (10.0, "GB processed per NAT gateway per month"),
    "log_gb_app": (
        1.0,
        "GB ingested per month into a log group an ECS task definition or the EC2 host's containers write to",
    ),
    "log_gb_flow": (1.0, "GB ingested per month into a log group that receives VPC flow logs"),
    "log_gb_other": (0.1, "GB ingested per month into any other log group (RDS exports, unused groups)"),
    "log_retention_months_if_unset": (12, "months of logs kept when a group has no retention (for storage)"),
    "ecr_gb": (1.0, "GB stored per ECR repository"),
    "s3_gb": (1.0, "GB stored per S3 bucket (state files, 30 days of ALB access logs)"),
    "rds_backup_change_pct_per_day": (
        2.0,
        (
            "% of allocated storage changed per day: backups beyond the free "
            "100 % of allocated storage = allocated x this x retention days"
        ),
    ),
    "container_insights_metrics_per_cluster": (
        12,
        (
            "Container Insights metrics per ECS cluster (10 resource "
            "metrics + ServiceCount + TaskCount on ClusterName)"
        ),
    ),
    "container_insights_metrics_per_service": (
        25,
        "Container Insights metrics per service (15 on ServiceName + 10 on TaskDefinitionFamily)",
    ),
    "container_insights_log_gb_per_service": (
        0.5,
        "GB of Container Insights performance log events per service per month",
    ),
    "ec2_detailed_monitoring_metrics": (7, "metrics EC2 detailed monitoring publishes per instance"),
    "rds_enhanced_monitoring_gb_at_60s": (
        0.35,
        (
            "GB of RDS enhanced monitoring (RDSOSMetrics log events, about "
            "8 KB each) per instance per month at a 60 s interval; scales "
            "with 60 / monitoring_interval"
        ),
    ),
    "waf_requests_million": (1.0, "million requests a web ACL inspects per month"),
    "log_gb_waf": (
        1.5,
        (
            "GB ingested per month into a log group that receives WAF logs (about 1.5 KB per "
            "request at the assumed requests)"
        ),
    ),
    "ebs_root_gb_if_unset": (8, "GB of a root volume whose size the JSON does not set"),
}
# Charges the report names but does not estimate.
NOT_PRICED = (
    "data transfer out to the internet and between AZs; API requests (S3, Secrets Manager, KMS, SNS, "
    "Route 53 queries); ElastiCache snapshot storage; T3 unlimited CPU credits beyond baseline; free "
    "tiers (they are per account, not per stack)"
)
# How schedule.py counts Fargate task hours.
FARGATE_RULE = (
    "Fargate tasks: without a schedule, desired_count bounded by the scaling target's min/max, all month. "
    "With aws_appautoscaling_scheduled_action, the week is split by the cron times (minute resolution, "
    "time zone shifts nothing without DST); the regime whose action has the highest min_capacity is "
    "working hours and runs desired_count bounded by that action's min/max, every other regime runs its "
    "min_capacity (the scale-in floor). Spot: the capacity-provider base is placed first, the remaining "
    "tasks split by weight (fractionally, as an expectation); Spot costs on-demand x (1 - discount)."
)


def default_assumptions() -> dict[str, float]:
    return {key: float(value) for key, (value, _) in ASSUMPTIONS.items()}


def parse_assumptions(pairs: list[str]) -> dict[str, float]:
    """The defaults, changed by each ``KEY=NUMBER`` pair."""
    assume = default_assumptions()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in ASSUMPTIONS:
            raise CostError(
                f"--assume {pair!r}: expected KEY=NUMBER with KEY one of {', '.join(ASSUMPTIONS)}"
            )
        try:
            assume[key] = float(value)
        except ValueError:
            raise CostError(f"--assume {pair!r}: {value!r} is not a number") from None
    return assume


def assumption_lines(assume: dict[str, float]) -> list[str]:
    """What every report states under its tables: the numbers assumed, then the rules applied."""
    lines = [f"{key} = {value:g}: {ASSUMPTIONS[key][1]}" for key, value in assume.items()]
    lines.append(FARGATE_RULE)
    lines.append(
        "Multi-AZ RDS bills the standby's instance hours and storage as well; backups are free up to "
        "100 % of allocated storage."
    )
    lines.append(
        "Public IPv4 ($/h each): every aws_eip (NAT gateways' and the EC2 host's), an EC2 auto-assigned "
        "address only without an EIP, one per AZ for an internet-facing ALB, one per running Fargate "
        "task with assign_public_ip."
    )
    lines.append(f"Not priced: {NOT_PRICED}.")
    lines.append(
        "Unit prices marked * are not confirmed against AWS for the region (status in pricing/prices.json)."
    )
    return lines
