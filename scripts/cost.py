#!/usr/bin/env python
"""Monthly cost of the synthesized stacks, from their Terraform JSON and ``pricing/prices.json``.

    python scripts/cost.py [DIR ...]              # default: every stack under cdktf.out/stacks
    python scripts/cost.py --format markdown      # a table a CI job can post on a pull request
    python scripts/cost.py --compare OLD_DIR      # how a change moves each stack's monthly cost
    python scripts/cost.py --strict               # exit 1 when a resource type has no price

A DIR is a stack directory (it holds ``cdk.tf.json``), a ``stacks`` directory, or a cdktf output
directory (it holds ``stacks/``). Only JSON is read: no cdktf import, no AWS call.

Every resource type in a stack is either priced here, or in ``FREE`` (costs nothing by itself), or
reported as *unpriced* and counted: nothing is dropped silently. Usage-driven charges (LCUs, NAT
data, log volume, ...) use the stated ``ASSUMPTIONS``; ``--assume key=value`` changes one.

Exit codes: 0 priced, 1 unpriced resources with ``--strict``, 2 bad input (no stacks, unknown region).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PRICES = ROOT / "pricing" / "prices.json"
DEFAULT_STACKS = Path("cdktf.out") / "stacks"

# The deployment guide's own monthly estimates, shown beside each stack's total.
GUIDE_ESTIMATES: dict[str, tuple[float, float]] = {
    "homu-fargate": (80.0, 120.0),
    "homu-ec2": (42.0, 47.0),
}

# Usage the Terraform JSON does not say; every number here is printed with the report.
ASSUMPTIONS: dict[str, tuple[float, str]] = {
    "hours_per_month": (730, "hours in a month (AWS's own convention: 24 x 365 / 12)"),
    "alb_lcu": (1.0, "LCUs an ALB consumes on average"),
    "nat_gb_per_gateway": (10.0, "GB processed per NAT gateway per month"),
    "log_gb_app": (1.0, "GB ingested per month into a log group an ECS task definition writes to"),
    "log_gb_flow": (1.0, "GB ingested per month into a log group that receives VPC flow logs"),
    "log_gb_other": (0.1, "GB ingested per month into any other log group (RDS exports, unused groups)"),
    "log_retention_months_if_unset": (12, "months of logs kept when a group has no retention (for storage)"),
    "ecr_gb": (1.0, "GB stored per ECR repository"),
    "s3_gb": (1.0, "GB stored per S3 bucket (state files, 30 days of ALB access logs)"),
    "rds_backup_change_pct_per_day": (
        2.0,
        "% of allocated storage changed per day: backups beyond the free "
        "100 % of allocated storage = allocated x this x retention days",
    ),
    "container_insights_metrics_per_cluster": (
        12,
        "Container Insights metrics per ECS cluster (10 resource "
        "metrics + ServiceCount + TaskCount on ClusterName)",
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
        "GB of RDS enhanced monitoring (RDSOSMetrics log events, about "
        "8 KB each) per instance per month at a 60 s interval; scales "
        "with 60 / monitoring_interval",
    ),
    "waf_requests_million": (1.0, "million requests a web ACL inspects per month"),
    "log_gb_waf": (
        1.5,
        "GB ingested per month into a log group that receives WAF logs (about 1.5 KB per "
        "request at the assumed requests)",
    ),
    "ebs_root_gb_if_unset": (8, "GB of a root volume whose size the JSON does not set"),
}
NOT_PRICED = (
    "data transfer out to the internet and between AZs; API requests (S3, Secrets Manager, KMS, SNS, "
    "Route 53 queries); ElastiCache snapshot storage; T3 unlimited CPU credits beyond baseline; free "
    "tiers (they are per account, not per stack)"
)
FARGATE_RULE = (
    "Fargate tasks: without a schedule, desired_count bounded by the scaling target's min/max, all month. "
    "With aws_appautoscaling_scheduled_action, the week is split by the cron times (minute resolution, "
    "time zone shifts nothing without DST); the regime whose action has the highest min_capacity is "
    "working hours and runs desired_count bounded by that action's min/max, every other regime runs its "
    "min_capacity (the scale-in floor). Spot: the capacity-provider base is placed first, the remaining "
    "tasks split by weight (fractionally, as an expectation); Spot costs on-demand x (1 - discount)."
)

# Resource types that cost nothing by themselves (why, in a few words).
FREE: dict[str, str] = {
    "aws_vpc": "no charge",
    "aws_subnet": "no charge",
    "aws_internet_gateway": "no charge (data transfer is separate)",
    "aws_route": "no charge",
    "aws_route_table": "no charge",
    "aws_route_table_association": "no charge",
    "aws_default_route_table": "no charge",
    "aws_default_network_acl": "no charge",
    "aws_network_acl": "no charge",
    "aws_network_acl_rule": "no charge",
    "aws_security_group": "no charge",
    "aws_default_security_group": "no charge",
    "aws_security_group_rule": "no charge",
    "aws_vpc_security_group_ingress_rule": "no charge",
    "aws_vpc_security_group_egress_rule": "no charge",
    "aws_eip_association": "the address is priced on aws_eip",
    "aws_flow_log": "ingestion is priced on its log group",
    "aws_iam_role": "no charge",
    "aws_iam_role_policy": "no charge",
    "aws_iam_role_policy_attachment": "no charge",
    "aws_iam_openid_connect_provider": "no charge",
    "aws_iam_policy": "no charge",
    "aws_iam_instance_profile": "no charge",
    "aws_ecs_task_definition": "priced through the service that runs it",
    "aws_ecs_cluster_capacity_providers": "no charge",
    "aws_appautoscaling_target": "no charge (read by the service's pricing)",
    "aws_appautoscaling_policy": "no charge",
    "aws_appautoscaling_scheduled_action": "no charge (read by the service's pricing)",
    "aws_lb_listener": "no charge (priced as ALB hours and LCUs)",
    "aws_lb_listener_rule": "no charge",
    "aws_lb_target_group": "no charge",
    "aws_lb_target_group_attachment": "no charge",
    "aws_db_subnet_group": "no charge",
    "aws_db_parameter_group": "no charge",
    "aws_db_option_group": "no charge",
    "aws_elasticache_subnet_group": "no charge",
    "aws_elasticache_parameter_group": "no charge",
    "aws_s3_bucket_acl": "no charge",
    "aws_s3_bucket_lifecycle_configuration": "no charge (no transitions to other storage classes)",
    "aws_s3_bucket_ownership_controls": "no charge",
    "aws_s3_bucket_policy": "no charge",
    "aws_s3_bucket_public_access_block": "no charge",
    "aws_s3_bucket_server_side_encryption_configuration": "no charge (KMS requests are not priced)",
    "aws_s3_bucket_versioning": "no charge (old versions are inside the S3 storage assumption)",
    "aws_ecr_lifecycle_policy": "no charge",
    "aws_ecr_repository_policy": "no charge",
    "aws_secretsmanager_secret_version": "included in the secret's monthly price",
    "aws_secretsmanager_secret_rotation": "no charge (the rotation Lambda would be priced on its own)",
    "aws_sns_topic": "first million publishes free; e-mail deliveries: first 1,000 a month free",
    "aws_sns_topic_subscription": "no charge",
    "aws_acm_certificate_validation": "no charge",
    "aws_route53_record": "no charge per record (queries to alias records of AWS resources are free)",
    "aws_kms_alias": "no charge",
    "aws_kms_key_policy": "no charge",
    "aws_wafv2_web_acl_association": "no charge (requests are priced on the web ACL)",
    "aws_wafv2_web_acl_logging_configuration": "no charge (ingestion is priced on its log group)",
}
# Data sources read existing things; these are worth a word in the report.
DATA_NOTES: dict[str, str] = {
    "aws_route53_zone": "looks up an existing hosted zone: its $0.50/month is billed wherever that zone is "
    "managed, not in this stack",
}

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_REF = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)")  # resource refs, not data.aws_...


class CostError(Exception):
    """Bad input: missing stacks, a region without prices, a broken prices file."""


class Unpriced(Exception):
    """This resource (or part of it) has no price here; the message says why."""


@dataclass
class Line:
    address: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    price_key: str
    confirmed: bool = True

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass
class UnpricedResource:
    address: str
    type: str
    reason: str


@dataclass
class StackCost:
    name: str
    directory: Path
    region: str
    lines: list[Line] = field(default_factory=list)
    unpriced: list[UnpricedResource] = field(default_factory=list)
    free: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def guide(self) -> tuple[float, float] | None:
        return GUIDE_ESTIMATES.get(self.name)


# --- prices ---------------------------------------------------------------------------------------


class PriceTable:
    """The prices of one region; ``get`` raises Unpriced for a missing key."""

    def __init__(self, region: str, entries: dict[str, dict[str, Any]]):
        self.region = region
        self.entries = entries

    def get(self, key: str) -> tuple[float, bool]:
        entry = self.entries.get(key)
        if entry is None:
            raise Unpriced(f"no price '{key}' for {self.region} in pricing/prices.json")
        return float(entry["usd"]), entry.get("status") in ("price-list", "page", "bill")

    def line(self, address: str, item: str, quantity: float, unit: str, key: str) -> Line:
        price, confirmed = self.get(key)
        return Line(address, item, quantity, unit, price, key, confirmed)


def load_prices(path: Path = DEFAULT_PRICES) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CostError(f"prices file {path}: {exc}") from None
    if not isinstance(data.get("regions"), dict) or not data["regions"]:
        raise CostError(f"prices file {path}: no 'regions' table")
    return data


def price_table(prices: dict[str, Any], region: str, stack: str) -> PriceTable:
    regions = prices["regions"]
    if region not in regions:
        raise CostError(
            f"stack {stack}: region {region} has no price table in pricing/prices.json "
            f"(tables: {', '.join(sorted(regions))})"
        )
    return PriceTable(region, regions[region]["prices"])


# --- reading stacks -------------------------------------------------------------------------------


def find_stack_dirs(paths: Iterable[Path]) -> list[Path]:
    """Each argument: a stack dir, a ``stacks`` dir, or a cdktf output dir holding ``stacks/``."""
    found: list[Path] = []
    for path in paths:
        if (path / "cdk.tf.json").is_file():
            found.append(path)
        elif (path / "stacks").is_dir():
            found.extend(sorted(p for p in (path / "stacks").iterdir() if (p / "cdk.tf.json").is_file()))
        elif path.is_dir() and any((p / "cdk.tf.json").is_file() for p in path.iterdir()):
            found.extend(sorted(p for p in path.iterdir() if (p / "cdk.tf.json").is_file()))
        else:
            raise CostError(
                f"{path}: no cdk.tf.json here, nor stacks under it (run `pipenv run synth` first)"
            )
    return found


def stack_region(config: dict[str, Any], name: str) -> dict[str | None, str]:
    """Region per provider alias (None: the default provider) of the stack's aws providers."""
    providers = config.get("provider", {}).get("aws", [])
    if isinstance(providers, dict):
        providers = [providers]
    regions: dict[str | None, str] = {}
    for block in providers:
        region = block.get("region")
        if not isinstance(region, str) or "${" in region:
            raise CostError(f"stack {name}: the aws provider's region is not a literal ({region!r})")
        regions[block.get("alias")] = region
    if not regions:
        raise CostError(f"stack {name}: no aws provider block, so no region to price")
    if None not in regions:
        regions[None] = next(iter(regions.values()))
    return regions


class Stack:
    """One stack's Terraform JSON, with lookups across its resources."""

    def __init__(self, name: str, directory: Path, config: dict[str, Any]):
        self.name = name
        self.directory = directory
        self.config = config
        self.resources: dict[str, dict[str, Any]] = config.get("resource", {}) or {}
        self.data: dict[str, dict[str, Any]] = config.get("data", {}) or {}

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(type_, {}) or {}

    def referenced(self, value: Any, type_: str) -> list[tuple[str, dict[str, Any]]]:
        """Resources of ``type_`` that a value (string, list, dict) refers to with ``${type.name...}``."""
        text = json.dumps(value)
        names = [
            name
            for expression in _INTERPOLATION.findall(text)
            for kind, name in _REF.findall(expression)
            if kind == type_
        ]
        return [
            (name, self.of_type(type_)[name]) for name in dict.fromkeys(names) if name in self.of_type(type_)
        ]

    def refers_to(self, value: Any, type_: str, name: str) -> bool:
        return any(n == name for n, _ in self.referenced(value, type_))


def read_stack(directory: Path) -> Stack:
    path = directory / "cdk.tf.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CostError(f"{path}: {exc}") from None
    return Stack(directory.name, directory, config)


# --- the Fargate schedule -------------------------------------------------------------------------

_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
WEEK_MINUTES = 7 * 24 * 60


def _cron_values(field_: str, low: int, high: int, names: dict[str, int] | None = None) -> list[int]:
    def number(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise ValueError(f"cannot read {token!r}")
        return int(token)

    values: set[int] = set()
    for part in field_.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            start, end = (number(x) for x in part.split("-", 1))
        else:
            start = end = number(part)
            if step != 1:
                end = high
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return sorted(values)


def cron_week_minutes(expression: str) -> list[int]:
    """Minutes of the week (Monday 00:00 = 0) at which an Application Auto Scaling cron fires.

    Supports ``cron(minutes hours day-of-month month day-of-week year)`` with ``*``/``?`` for
    day-of-month, month and year (a weekly pattern); anything else raises ValueError.
    """
    match = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not match:
        raise ValueError(f"{expression!r} is not a cron() expression")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r}: expected 6 fields")
    minutes, hours, dom, month, dow, year = fields
    if dom not in ("*", "?") or month != "*" or year != "*":
        raise ValueError(f"{expression!r}: only weekly patterns (day-of-month, month, year = * or ?)")
    days = _cron_values(dow, 1, 7, _DAYS)  # AWS: 1 = Sunday
    result = []
    for day in days:
        monday_based = (day - 2) % 7
        for hour in _cron_values(hours, 0, 23):
            for minute in _cron_values(minutes, 0, 59):
                result.append(monday_based * 1440 + hour * 60 + minute)
    return sorted(result)


def schedule_regimes(actions: list[tuple[str, list[int]]]) -> dict[str, int]:
    """Minutes per week each action is the one in force (the last to have fired, wrapping the week)."""
    events = sorted((minute, index) for index, (_, minutes) in enumerate(actions) for minute in minutes)
    if not events:
        raise ValueError("no scheduled action ever fires")
    result: dict[str, int] = {name: 0 for name, _ in actions}
    for position, (minute, index) in enumerate(events):
        following = events[(position + 1) % len(events)][0]
        span = (following - minute) % WEEK_MINUTES
        if len(events) == 1:
            span = WEEK_MINUTES
        result[actions[index][0]] += span
    return result


@dataclass
class TaskHours:
    """A service's tasks over the month: (task count, hours) segments, and how they were worked out."""

    segments: list[tuple[float, float]]
    explanation: str

    @property
    def hours(self) -> float:
        return sum(count * hours for count, hours in self.segments)


def service_task_hours(
    stack: Stack, service_name: str, body: dict[str, Any], hours_per_month: float, notes: list[str]
) -> TaskHours:
    desired = int(body.get("desired_count") if body.get("desired_count") is not None else 1)
    literal_name = body.get("name", service_name)
    targets = [
        (name, target)
        for name, target in stack.of_type("aws_appautoscaling_target").items()
        if target.get("service_namespace") == "ecs"
        and str(target.get("resource_id", "")).endswith("/" + str(literal_name))
    ]
    if not targets:
        return TaskHours(
            [(desired, hours_per_month)], f"{desired} task(s) x {hours_per_month:g} h (no scaling target)"
        )
    target_name, target = targets[0]
    low, high = int(target.get("min_capacity", desired)), int(target.get("max_capacity", desired))
    actions = []
    for action_name, action in stack.of_type("aws_appautoscaling_scheduled_action").items():
        refers = stack.refers_to(action.get("resource_id"), "aws_appautoscaling_target", target_name)
        if refers or action.get("resource_id") == target.get("resource_id"):
            actions.append((action_name, action))
    bounded = min(max(desired, low), high)
    if not actions:
        return TaskHours(
            [(bounded, hours_per_month)],
            f"{bounded} task(s) x {hours_per_month:g} h (desired {desired} within {low}..{high})",
        )
    try:
        weekly = schedule_regimes([(n, cron_week_minutes(a["schedule"])) for n, a in actions])
    except (KeyError, ValueError) as exc:
        notes.append(f"aws_ecs_service.{service_name}: schedule not understood ({exc}); priced without it")
        return TaskHours(
            [(bounded, hours_per_month)], f"{bounded} task(s) x {hours_per_month:g} h (schedule ignored)"
        )

    def bounds(action: dict[str, Any]) -> tuple[int, int]:
        limits = action.get("scalable_target_action", {})
        if isinstance(limits, list):
            limits = limits[0] if limits else {}
        return int(limits.get("min_capacity", low)), int(limits.get("max_capacity", high))

    working = max(actions, key=lambda pair: bounds(pair[1]))[0]
    segments, parts = [], []
    for name, action in actions:
        minimum, maximum = bounds(action)
        count = min(max(desired, minimum), maximum) if name == working else minimum
        hours = weekly[name] / WEEK_MINUTES * hours_per_month
        segments.append((count, hours))
        label = "working" if name == working else "off-hours"
        parts.append(
            f"{count} x {hours:.1f} h {label} ({weekly[name] / 60:g} h/week, {action.get('schedule')})"
        )
    return TaskHours(segments, " + ".join(parts))


def strategy_split(strategy: list[dict[str, Any]], tasks: float) -> dict[str, float]:
    """Expected tasks per capacity provider: the base first, the rest by weight."""
    if not strategy:
        return {"FARGATE": tasks}
    split = {item["capacity_provider"]: 0.0 for item in strategy}
    remaining = tasks
    for item in strategy:
        base = min(float(item.get("base", 0) or 0), remaining)
        split[item["capacity_provider"]] += base
        remaining -= base
    weights = sum(float(item.get("weight", 0) or 0) for item in strategy)
    if remaining > 0 and weights > 0:
        for item in strategy:
            split[item["capacity_provider"]] += remaining * float(item.get("weight", 0) or 0) / weights
    return split


# --- pricers: (stack, name, body, prices, assumptions, report) -> lines ---------------------------

Pricer = Callable[["Context", str, dict[str, Any]], list[Line]]


@dataclass
class Context:
    stack: Stack
    prices: PriceTable
    assume: dict[str, float]
    report: StackCost

    @property
    def hours(self) -> float:
        return self.assume["hours_per_month"]


def _task_definition(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    referenced = ctx.stack.referenced(body.get("task_definition"), "aws_ecs_task_definition")
    if referenced:
        return referenced[0][1]
    family = str(body.get("task_definition", "")).split(":")[0]
    for task in ctx.stack.of_type("aws_ecs_task_definition").values():
        if task.get("family") == family:
            return task
    raise Unpriced("task definition not found in the stack, so cpu/memory are unknown")


def price_ecs_service(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_ecs_service.{name}"
    strategy = body.get("capacity_provider_strategy") or []
    if not strategy and not body.get("launch_type"):
        # Neither given: the cluster's default capacity provider strategy applies.
        clusters = {n for n, _ in ctx.stack.referenced(body.get("cluster"), "aws_ecs_cluster")}
        for providers in ctx.stack.of_type("aws_ecs_cluster_capacity_providers").values():
            if clusters & {
                n for n, _ in ctx.stack.referenced(providers.get("cluster_name"), "aws_ecs_cluster")
            }:
                strategy = providers.get("default_capacity_provider_strategy") or []
        if not strategy:
            raise Unpriced("no launch type and no capacity provider strategy: cannot tell Fargate from EC2")
    if not strategy:
        if body["launch_type"] != "FARGATE":
            raise Unpriced(f"launch type {body['launch_type']}: only Fargate is priced")
        strategy = [{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]
    if {item["capacity_provider"] for item in strategy} - {"FARGATE", "FARGATE_SPOT"}:
        raise Unpriced("runs on EC2 capacity providers; only Fargate is priced")
    task = _task_definition(ctx, body)
    try:
        vcpu, memory_gb = float(task["cpu"]) / 1024, float(task["memory"]) / 1024
    except (KeyError, TypeError, ValueError):
        raise Unpriced("the task definition has no literal task-level cpu/memory") from None
    platform = task.get("runtime_platform") or {}
    if isinstance(platform, list):
        platform = platform[0] if platform else {}
    if str(platform.get("operating_system_family", "LINUX")).upper() != "LINUX":
        raise Unpriced("Windows Fargate tasks are not priced")
    arm = str(platform.get("cpu_architecture", "X86_64")).upper() == "ARM64"
    storage = task.get("ephemeral_storage") or {}
    if isinstance(storage, list):
        storage = storage[0] if storage else {}
    if float(storage.get("size_in_gib", 20) or 20) > 20:
        raise Unpriced("ephemeral storage above the included 20 GiB is not priced")

    task_hours = service_task_hours(ctx.stack, name, body, ctx.hours, ctx.report.notes)
    vcpu_key = "fargate_arm_vcpu_hour" if arm else "fargate_vcpu_hour"
    gb_key = "fargate_arm_gb_hour" if arm else "fargate_gb_hour"
    arch = "ARM" if arm else "x86"
    lines = []
    ondemand = spot = 0.0
    for count, hours in task_hours.segments:
        split = strategy_split(strategy, count)
        ondemand += split.get("FARGATE", 0.0) * hours
        spot += split.get("FARGATE_SPOT", 0.0) * hours
    ctx.report.notes.append(
        f"{address}: {task_hours.explanation} = {task_hours.hours:.1f} task-h, "
        f"{ondemand:.1f} on-demand + {spot:.1f} Spot"
    )
    if ondemand:
        lines.append(
            ctx.prices.line(
                address,
                f"Fargate {arch} vCPU ({vcpu:g} x {ondemand:.1f} task-h)",
                vcpu * ondemand,
                "vCPU-h",
                vcpu_key,
            )
        )
        lines.append(
            ctx.prices.line(
                address,
                f"Fargate {arch} memory ({memory_gb:g} GB x {ondemand:.1f} task-h)",
                memory_gb * ondemand,
                "GB-h",
                gb_key,
            )
        )
    if spot:
        discount, confirmed = ctx.prices.get("fargate_spot_discount")
        for item, quantity, unit, key in (
            (f"Fargate Spot {arch} vCPU ({vcpu:g} x {spot:.1f} task-h)", vcpu * spot, "vCPU-h", vcpu_key),
            (
                f"Fargate Spot {arch} memory ({memory_gb:g} GB x {spot:.1f} task-h)",
                memory_gb * spot,
                "GB-h",
                gb_key,
            ),
        ):
            price, price_confirmed = ctx.prices.get(key)
            lines.append(
                Line(
                    address,
                    item,
                    quantity,
                    unit,
                    price * (1 - discount),
                    f"{key} x (1 - fargate_spot_discount)",
                    confirmed and price_confirmed,
                )
            )
    network = body.get("network_configuration") or {}
    if isinstance(network, list):
        network = network[0] if network else {}
    if network.get("assign_public_ip") in (True, "true"):
        lines.append(
            ctx.prices.line(
                address, "public IPv4 per running task", task_hours.hours, "IPv4-h", "public_ipv4_hour"
            )
        )
    return lines


def price_ecs_cluster(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    settings = body.get("setting") or []
    insights = next((s.get("value") for s in settings if s.get("name") == "containerInsights"), "disabled")
    if insights == "disabled":
        return []
    if insights != "enabled":
        raise Unpriced(f"Container Insights '{insights}' (enhanced observability) is priced per observation")
    services = [
        body_
        for body_ in ctx.stack.of_type("aws_ecs_service").values()
        if ctx.stack.refers_to(body_.get("cluster"), "aws_ecs_cluster", name)
    ]
    address = f"aws_ecs_cluster.{name}"
    metrics = (
        ctx.assume["container_insights_metrics_per_cluster"]
        + len(services) * ctx.assume["container_insights_metrics_per_service"]
    )
    return [
        ctx.prices.line(
            address,
            f"Container Insights metrics ({len(services)} service(s))",
            metrics,
            "metric-mo",
            "cloudwatch_metric_month",
        ),
        ctx.prices.line(
            address,
            "Container Insights performance logs",
            len(services) * ctx.assume["container_insights_log_gb_per_service"],
            "GB",
            "logs_ingest_gb",
        ),
    ]


def price_lb(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    kind = body.get("load_balancer_type", "application")
    if kind != "application":
        raise Unpriced(f"load balancer type {kind!r}: only application load balancers are priced")
    address = f"aws_lb.{name}"
    lines = [
        ctx.prices.line(address, "ALB hours", ctx.hours, "ALB-h", "alb_hour"),
        ctx.prices.line(
            address,
            f"ALB LCUs ({ctx.assume['alb_lcu']:g} on average)",
            ctx.assume["alb_lcu"] * ctx.hours,
            "LCU-h",
            "alb_lcu_hour",
        ),
    ]
    if not body.get("internal", False):
        subnets = body.get("subnets") or [m for m in body.get("subnet_mapping") or []]
        zones = max(len(subnets), 1)
        lines.append(
            ctx.prices.line(
                address, f"public IPv4, one per AZ ({zones})", zones * ctx.hours, "IPv4-h", "public_ipv4_hour"
            )
        )
    return lines


def price_nat_gateway(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_nat_gateway.{name}"
    gb = ctx.assume["nat_gb_per_gateway"]
    # Its public address is the aws_eip it allocates, priced there.
    return [
        ctx.prices.line(address, "NAT gateway hours", ctx.hours, "NAT-h", "nat_gateway_hour"),
        ctx.prices.line(address, f"NAT data processed ({gb:g} GB)", gb, "GB", "nat_gateway_gb"),
    ]


def price_eip(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_eip.{name}"
    users = [
        f"aws_nat_gateway.{n}"
        for n, nat in ctx.stack.of_type("aws_nat_gateway").items()
        if ctx.stack.refers_to(nat.get("allocation_id"), "aws_eip", name)
    ]
    users += [f"aws_instance.{n}" for n, _ in ctx.stack.referenced(body.get("instance"), "aws_instance")]
    what = f"public IPv4 (Elastic IP{', ' + users[0] if users else ''})"
    return [ctx.prices.line(address, what, ctx.hours, "IPv4-h", "public_ipv4_hour")]


def _block(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return value[0] if value else {}
    return value or {}


def price_instance(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_instance.{name}"
    instance_type = body.get("instance_type")
    if not isinstance(instance_type, str) or "${" in instance_type:
        raise Unpriced("instance_type is not a literal")
    lines = [
        ctx.prices.line(
            address,
            f"EC2 {instance_type} hours (Linux)",
            ctx.hours,
            "instance-h",
            f"ec2_instance_hour:{instance_type}",
        )
    ]
    volumes = [("root volume", _block(body.get("root_block_device")))]
    volumes += [
        (f"EBS volume {v.get('device_name', '')}".strip(), v) for v in body.get("ebs_block_device") or []
    ]
    for label, volume in volumes:
        # Unset, the type comes from the AMI's block device mapping: usually gp2.
        volume_type = volume.get("volume_type", "gp2")
        size = float(volume.get("volume_size") or ctx.assume["ebs_root_gb_if_unset"])
        if (
            float(volume.get("iops", 3000) or 3000) > 3000
            or float(volume.get("throughput", 125) or 125) > 125
        ):
            raise Unpriced(f"{label}: gp3 IOPS/throughput above the included baseline are not priced")
        lines.append(
            ctx.prices.line(
                address, f"{label} {volume_type} {size:g} GB", size, "GB-mo", f"ebs_gb_month:{volume_type}"
            )
        )
    if body.get("monitoring") in (True, "true"):
        count = ctx.assume["ec2_detailed_monitoring_metrics"]
        lines.append(
            ctx.prices.line(
                address,
                f"detailed monitoring ({count:g} metrics)",
                count,
                "metric-mo",
                "cloudwatch_metric_month",
            )
        )
    has_eip = any(
        ctx.stack.refers_to(eip.get("instance"), "aws_instance", name)
        for eip in ctx.stack.of_type("aws_eip").values()
    ) or any(
        ctx.stack.refers_to(association.get("instance_id"), "aws_instance", name)
        for association in ctx.stack.of_type("aws_eip_association").values()
    )
    if body.get("associate_public_ip_address") in (True, "true") and not has_eip:
        # With an Elastic IP associated, the auto-assigned address is released: only the EIP is billed.
        lines.append(
            ctx.prices.line(address, "public IPv4 (auto-assigned)", ctx.hours, "IPv4-h", "public_ipv4_hour")
        )
    return lines


def price_ebs_volume(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    volume_type = body.get("type", "gp3")
    if float(body.get("iops", 3000) or 3000) > 3000 or float(body.get("throughput", 125) or 125) > 125:
        raise Unpriced("gp3 IOPS/throughput above the included baseline are not priced")
    size = float(body.get("size") or 0)
    return [
        ctx.prices.line(
            f"aws_ebs_volume.{name}",
            f"EBS {volume_type} {size:g} GB",
            size,
            "GB-mo",
            f"ebs_gb_month:{volume_type}",
        )
    ]


def price_db_instance(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_db_instance.{name}"
    engine, klass = body.get("engine"), body.get("instance_class")
    if body.get("replicate_source_db") and not engine:
        raise Unpriced("read replica without a literal engine")
    multi_az = body.get("multi_az") in (True, "true")
    copies = 2 if multi_az else 1
    az = "Multi-AZ: primary + standby" if multi_az else "Single-AZ"
    lines = [
        ctx.prices.line(
            address,
            f"RDS {engine} {klass} hours ({az})",
            copies * ctx.hours,
            "instance-h",
            f"rds_instance_hour:{engine}:{klass}",
        )
    ]
    storage_type = body.get("storage_type", "gp2")
    allocated = float(body.get("allocated_storage") or 0)
    if body.get("iops") and storage_type == "gp3" and allocated >= 400:
        raise Unpriced("provisioned gp3 IOPS are not priced")
    lines.append(
        ctx.prices.line(
            address,
            f"RDS {storage_type} storage {allocated:g} GB" + (" x 2 (standby)" if multi_az else ""),
            copies * allocated,
            "GB-mo",
            f"rds_storage_gb_month:{storage_type}",
        )
    )
    retention = int(body.get("backup_retention_period", 1) or 0)
    beyond = allocated * ctx.assume["rds_backup_change_pct_per_day"] / 100 * retention
    if beyond:
        lines.append(
            ctx.prices.line(
                address,
                f"RDS backups beyond free ({retention} days of changes)",
                beyond,
                "GB-mo",
                "rds_backup_gb_month",
            )
        )
    if body.get("manage_master_user_password") in (True, "true"):
        lines.append(
            ctx.prices.line(
                address,
                "Secrets Manager secret (RDS-managed master password)",
                1,
                "secret-mo",
                "secret_month",
            )
        )
    interval = int(body.get("monitoring_interval", 0) or 0)
    if interval > 0:
        gb = ctx.assume["rds_enhanced_monitoring_gb_at_60s"] * 60 / interval
        lines.append(
            ctx.prices.line(
                address,
                f"enhanced monitoring every {interval} s (RDSOSMetrics logs)",
                gb,
                "GB",
                "logs_ingest_gb",
            )
        )
    if (
        body.get("performance_insights_enabled") in (True, "true")
        and int(body.get("performance_insights_retention_period", 7) or 7) > 7
    ):
        raise Unpriced("Performance Insights retention beyond the free 7 days is not priced")
    return lines


def price_elasticache_group(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    engine = body.get("engine", "redis")
    node_type = body.get("node_type")
    if body.get("num_node_groups") is not None:
        nodes = int(body["num_node_groups"]) * (1 + int(body.get("replicas_per_node_group", 0) or 0))
    else:
        nodes = int(body.get("num_cache_clusters", 1) or 1)
    return [
        ctx.prices.line(
            f"aws_elasticache_replication_group.{name}",
            f"ElastiCache {engine} {node_type} x {nodes} node(s)",
            nodes * ctx.hours,
            "node-h",
            f"elasticache_node_hour:{engine}:{node_type}",
        )
    ]


def price_elasticache_cluster(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    if body.get("replication_group_id"):
        return []  # a member of a replication group, priced there
    engine, node_type = body.get("engine", "redis"), body.get("node_type")
    nodes = int(body.get("num_cache_nodes", 1) or 1)
    return [
        ctx.prices.line(
            f"aws_elasticache_cluster.{name}",
            f"ElastiCache {engine} {node_type} x {nodes} node(s)",
            nodes * ctx.hours,
            "node-h",
            f"elasticache_node_hour:{engine}:{node_type}",
        )
    ]


def price_secret(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    return [
        ctx.prices.line(
            f"aws_secretsmanager_secret.{name}",
            f"secret {body.get('name', name)}",
            1,
            "secret-mo",
            "secret_month",
        )
    ]


def price_kms_key(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    rotation = body.get("enable_key_rotation") in (True, "true")
    item = "KMS customer managed key" + (
        " (rotation on: +$1/month after each of the first two yearly rotations, not included)"
        if rotation
        else ""
    )
    return [ctx.prices.line(f"aws_kms_key.{name}", item, 1, "key-mo", "kms_key_month")]


PAID_MANAGED_RULE_GROUPS = {
    "AWSManagedRulesBotControlRuleSet",
    "AWSManagedRulesATPRuleSet",
    "AWSManagedRulesACFPRuleSet",
    "AWSManagedRulesAntiDDoSRuleSet",
}


def price_wafv2_web_acl(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_wafv2_web_acl.{name}"
    if body.get("scope", "REGIONAL") != "REGIONAL":
        raise Unpriced("CloudFront-scope web ACLs are not priced")
    rules = body.get("rule") or []
    for rule in rules:
        group = (rule.get("statement") or {}).get("managed_rule_group_statement")
        if group and (group.get("vendor_name") != "AWS" or group.get("name") in PAID_MANAGED_RULE_GROUPS):
            raise Unpriced(
                f"managed rule group {group.get('vendor_name')}/{group.get('name')} has its own "
                "subscription and request fees, not priced"
            )
    if (
        body.get("captcha_config")
        or body.get("challenge_config")
        or any(
            "captcha" in (rule.get("action") or {}) or "challenge" in (rule.get("action") or {})
            for rule in rules
        )
    ):
        raise Unpriced("CAPTCHA/Challenge attempts are not priced")
    requests = ctx.assume["waf_requests_million"]
    return [
        ctx.prices.line(address, f"web ACL {body.get('name', name)}", 1, "web-ACL-mo", "waf_web_acl_month"),
        ctx.prices.line(
            address,
            f"WAF rules ({len(rules)}; a managed rule group counts as one)",
            len(rules),
            "rule-mo",
            "waf_rule_month",
        ),
        ctx.prices.line(
            address, f"WAF requests ({requests:g} M)", requests, "M requests", "waf_million_requests"
        ),
    ]


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
        for f in ctx.stack.of_type("aws_flow_log").values()
    )
    app = any(
        value == group or ctx.stack.refers_to(value, "aws_cloudwatch_log_group", name)
        for task in ctx.stack.of_type("aws_ecs_task_definition").values()
        for value in _awslogs_groups(task)
    )
    waf = any(
        ctx.stack.refers_to(c.get("log_destination_configs"), "aws_cloudwatch_log_group", name)
        for c in ctx.stack.of_type("aws_wafv2_web_acl_logging_configuration").values()
    )
    role, gb = (
        ("VPC flow logs", ctx.assume["log_gb_flow"])
        if flow
        else ("WAF logs", ctx.assume["log_gb_waf"])
        if waf
        else ("ECS task logs", ctx.assume["log_gb_app"])
        if app
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


def price_route53_zone(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    return [
        ctx.prices.line(
            f"aws_route53_zone.{name}",
            f"hosted zone {body.get('name', name)}",
            1,
            "zone-mo",
            "route53_hosted_zone_month",
        )
    ]


def price_ecr_repository(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    gb = ctx.assume["ecr_gb"]
    return [
        ctx.prices.line(
            f"aws_ecr_repository.{name}",
            f"ECR storage {body.get('name', name)} ({gb:g} GB)",
            gb,
            "GB-mo",
            "ecr_storage_gb_month",
        )
    ]


def price_s3_bucket(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    gb = ctx.assume["s3_gb"]
    label = body.get("bucket") or (
        str(body.get("bucket_prefix", "")) + "*" if body.get("bucket_prefix") else name
    )
    return [
        ctx.prices.line(
            f"aws_s3_bucket.{name}", f"S3 Standard {label} ({gb:g} GB)", gb, "GB-mo", "s3_standard_gb_month"
        )
    ]


def price_ssm_parameter(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    if str(body.get("tier", "Standard")) != "Advanced":
        return []  # standard parameters are free
    return [
        ctx.prices.line(
            f"aws_ssm_parameter.{name}",
            "advanced parameter",
            1,
            "parameter-mo",
            "ssm_advanced_parameter_month",
        )
    ]


def price_acm_certificate(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    if body.get("certificate_authority_arn"):
        raise Unpriced("private certificate (AWS Private CA) is not priced")
    return []  # public ACM certificates are free


PRICERS: dict[str, Pricer] = {
    "aws_ecs_service": price_ecs_service,
    "aws_ecs_cluster": price_ecs_cluster,
    "aws_lb": price_lb,
    "aws_alb": price_lb,
    "aws_nat_gateway": price_nat_gateway,
    "aws_eip": price_eip,
    "aws_instance": price_instance,
    "aws_ebs_volume": price_ebs_volume,
    "aws_db_instance": price_db_instance,
    "aws_elasticache_replication_group": price_elasticache_group,
    "aws_elasticache_cluster": price_elasticache_cluster,
    "aws_secretsmanager_secret": price_secret,
    "aws_kms_key": price_kms_key,
    "aws_wafv2_web_acl": price_wafv2_web_acl,
    "aws_cloudwatch_metric_alarm": price_alarm,
    "aws_cloudwatch_log_group": price_log_group,
    "aws_route53_zone": price_route53_zone,
    "aws_ecr_repository": price_ecr_repository,
    "aws_s3_bucket": price_s3_bucket,
    "aws_ssm_parameter": price_ssm_parameter,
    "aws_acm_certificate": price_acm_certificate,
}
assert not set(PRICERS) & set(FREE), "a type is either priced or free"


def price_stack(stack: Stack, prices: dict[str, Any], assume: dict[str, float]) -> StackCost:
    regions = stack_region(stack.config, stack.name)
    tables: dict[str, PriceTable] = {}

    def table(region: str) -> PriceTable:
        if region not in tables:
            tables[region] = price_table(prices, region, stack.name)
        return tables[region]

    report = StackCost(stack.name, stack.directory, regions[None])
    table(regions[None])
    for type_ in sorted(stack.resources):
        for name, body in sorted((stack.resources[type_] or {}).items()):
            address = f"{type_}.{name}"
            if type_ in FREE:
                report.free[type_] = report.free.get(type_, 0) + 1
                continue
            pricer = PRICERS.get(type_)
            if pricer is None:
                report.unpriced.append(UnpricedResource(address, type_, "no price and not in the free list"))
                continue
            alias = str(body.get("provider", "aws")).partition(".")[2] or None
            region = regions.get(alias, regions[None])
            ctx = Context(stack, table(region), assume, report)
            try:
                report.lines.extend(pricer(ctx, name, body))
            except Unpriced as reason:
                report.unpriced.append(UnpricedResource(address, type_, str(reason)))
    for type_ in sorted(stack.data):
        for name in sorted(stack.data[type_] or {}):
            if type_ in DATA_NOTES:
                report.notes.append(f"data.{type_}.{name} {DATA_NOTES[type_]}")
    return report


def price_dirs(dirs: Iterable[Path], prices: dict[str, Any], assume: dict[str, float]) -> list[StackCost]:
    return [price_stack(read_stack(d), prices, assume) for d in find_stack_dirs(dirs)]


# --- output ---------------------------------------------------------------------------------------


def money(value: float) -> str:
    return f"{value:,.2f}"


def unit_price(line: Line) -> str:
    text = f"{line.unit_price:.7f}".rstrip("0").rstrip(".")
    return f"{text}/{line.unit}" + ("" if line.confirmed else " *")


def quantity(line: Line) -> str:
    text = f"{line.quantity:,.2f}".rstrip("0").rstrip(".") if line.quantity % 1 else f"{line.quantity:,.0f}"
    return f"{text} {line.unit}"


def guide_text(report: StackCost) -> str:
    if report.guide is None:
        return "guide estimate: none for this stack"
    low, high = report.guide
    total = report.total
    where = (
        "within it"
        if low <= total <= high
        else f"${money(total - high)} above it"
        if total > high
        else f"${money(low - total)} below it"
    )
    return f"guide estimate: ${low:g}-{high:g}/month ({where})"


def assumption_lines(assume: dict[str, float]) -> list[str]:
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


def table_rows(report: StackCost) -> list[tuple[str, str, str, str, str]]:
    return [
        (line.address, line.item, quantity(line), unit_price(line), money(line.monthly))
        for line in sorted(report.lines, key=lambda ln: (-ln.monthly, ln.address, ln.item))
    ]


def render_text(reports: list[StackCost], assume: dict[str, float], verbose: bool = False) -> str:
    out: list[str] = []
    header = ("resource", "item", "quantity", "unit price USD", "monthly USD")
    for report in reports:
        rows = table_rows(report)
        widths = [
            max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(5)
        ]
        out.append(f"== {report.name} ({report.region}) {report.directory}")
        fmt = "  ".join(f"{{:{'>' if i >= 2 else '<'}{w}}}" for i, w in enumerate(widths))
        out.append(fmt.format(*header))
        out.extend(fmt.format(*row) for row in rows)
        out.append(fmt.format("total", "", "", "", money(report.total)))
        out.append(guide_text(report))
        if report.unpriced:
            out.append(f"UNPRICED: {len(report.unpriced)} resource(s), not in the total:")
            out.extend(f"  {u.address}: {u.reason}" for u in report.unpriced)
        else:
            out.append("unpriced: 0 resources")
        free_count = sum(report.free.values())
        out.append(
            f"free: {free_count} resources of {len(report.free)} types"
            + (": " + ", ".join(f"{t} x{n}" for t, n in sorted(report.free.items())) if verbose else "")
        )
        out.extend(f"note: {note}" for note in report.notes)
        out.append("")
    out.append("Assumptions (all stacks):")
    out.extend(f"- {line}" for line in assumption_lines(assume))
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(reports: list[StackCost], assume: dict[str, float]) -> str:
    out = ["## Monthly cost estimate", ""]
    out.append("| stack | region | monthly USD | guide estimate | unpriced |")
    out.append("|---|---|---:|---|---:|")
    for r in reports:
        guide = f"${r.guide[0]:g}-{r.guide[1]:g}" if r.guide else "none"
        out.append(f"| `{r.name}` | {r.region} | **{money(r.total)}** | {guide} | {len(r.unpriced)} |")
    for r in reports:
        out += ["", f"### `{r.name}`: ${money(r.total)}/month", "", guide_text(r), ""]
        out.append("| resource | item | quantity | unit price USD | monthly USD |")
        out.append("|---|---|---:|---:|---:|")
        out.extend(
            "| " + " | ".join(_md(c) if i else f"`{c}`" for i, c in enumerate(row)) + " |"
            for row in table_rows(r)
        )
        out.append(f"| **total** | | | | **{money(r.total)}** |")
        if r.unpriced:
            out += ["", f"**Unpriced ({len(r.unpriced)}), not in the total:**", ""]
            out.extend(f"- `{u.address}`: {_md(u.reason)}" for u in r.unpriced)
        if r.notes:
            out += ["", "<details><summary>notes</summary>", ""]
            out.extend(f"- {_md(n)}" for n in r.notes)
            out += ["", "</details>"]
    out += ["", "<details><summary>assumptions</summary>", ""]
    out.extend(f"- {_md(line)}" for line in assumption_lines(assume))
    out += ["", "</details>", ""]
    return "\n".join(out)


def render_json(reports: list[StackCost], assume: dict[str, float]) -> str:
    return (
        json.dumps(
            {
                "assumptions": assume,
                "stacks": [
                    {
                        "name": r.name,
                        "region": r.region,
                        "total": round(r.total, 2),
                        "guide": r.guide,
                        "lines": [
                            {
                                "address": ln.address,
                                "item": ln.item,
                                "quantity": ln.quantity,
                                "unit": ln.unit,
                                "unit_price": ln.unit_price,
                                "price_key": ln.price_key,
                                "confirmed": ln.confirmed,
                                "monthly": round(ln.monthly, 4),
                            }
                            for ln in r.lines
                        ],
                        "unpriced": [
                            {"address": u.address, "type": u.type, "reason": u.reason} for u in r.unpriced
                        ],
                        "free": r.free,
                        "notes": r.notes,
                    }
                    for r in reports
                ],
            },
            indent=2,
        )
        + "\n"
    )


# --- compare --------------------------------------------------------------------------------------


@dataclass
class Change:
    address: str
    item: str  # the new line's description (the old one's for a removed line)
    old: float
    new: float
    old_item: str | None = None  # set when the description changed (another class, size, count, ...)

    @property
    def delta(self) -> float:
        return self.new - self.old

    @property
    def label(self) -> str:
        return self.item + (
            f" (was: {self.old_item})" if self.old_item and self.old_item != self.item else ""
        )


@dataclass
class StackDelta:
    name: str
    old: StackCost | None
    new: StackCost | None
    changed: list[Change]

    @property
    def old_total(self) -> float:
        return self.old.total if self.old else 0.0

    @property
    def new_total(self) -> float:
        return self.new.total if self.new else 0.0

    @property
    def delta(self) -> float:
        return self.new_total - self.old_total


def _line_key(line: Line) -> tuple[str, str]:
    # One charge of one resource: the price key without its class/type part, so a db.t3.micro ->
    # db.t3.small change is one changed line, not a removal and an addition.
    return line.address, line.price_key.split(":")[0]


def compare(old: list[StackCost], new: list[StackCost]) -> list[StackDelta]:
    old_by, new_by = {r.name: r for r in old}, {r.name: r for r in new}
    deltas = []
    for name in list(dict.fromkeys([*new_by, *old_by])):
        before, after = old_by.get(name), new_by.get(name)
        sums: dict[tuple[str, str], list[Any]] = {}
        for index, report in enumerate((before, after)):
            for line in report.lines if report else []:
                entry = sums.setdefault(_line_key(line), [0.0, 0.0, None, None])
                entry[index] += line.monthly
                entry[2 + index] = entry[2 + index] or line.item
        changed = [
            Change(address, new_item or old_item, o, n, old_item if new_item else None)
            for (address, _), (o, n, old_item, new_item) in sums.items()
            if abs(n - o) >= 0.005
        ]
        changed.sort(key=lambda c: (-abs(c.delta), c.address, c.item))
        deltas.append(StackDelta(name, before, after, changed))
    return deltas


def signed(value: float) -> str:
    return ("+" if value >= 0.005 else "-" if value <= -0.005 else "±") + money(abs(value))


def render_compare_text(deltas: list[StackDelta]) -> str:
    out = []
    for d in deltas:
        state = " (new stack)" if d.old is None else " (removed stack)" if d.new is None else ""
        out.append(
            f"== {d.name}{state}: {money(d.old_total)} -> {money(d.new_total)} USD/month ({signed(d.delta)})"
        )
        for c in d.changed:
            out.append(f"  {signed(c.delta):>10}  {c.address}  {c.label}: {money(c.old)} -> {money(c.new)}")
        if not d.changed:
            out.append("  no line changed")
    total_old, total_new = sum(d.old_total for d in deltas), sum(d.new_total for d in deltas)
    out.append(
        f"all stacks: {money(total_old)} -> {money(total_new)} USD/month ({signed(total_new - total_old)})"
    )
    return "\n".join(out) + "\n"


def render_compare_markdown(deltas: list[StackDelta]) -> str:
    out = ["## Monthly cost change", "", "| stack | old USD | new USD | delta USD |", "|---|---:|---:|---:|"]
    for d in deltas:
        out.append(f"| `{d.name}` | {money(d.old_total)} | {money(d.new_total)} | **{signed(d.delta)}** |")
    total_old, total_new = sum(d.old_total for d in deltas), sum(d.new_total for d in deltas)
    out.append(f"| **all** | {money(total_old)} | {money(total_new)} | **{signed(total_new - total_old)}** |")
    for d in deltas:
        if not d.changed:
            continue
        out += [
            "",
            f"### `{d.name}`: lines that changed",
            "",
            "| resource | item | old USD | new USD | delta USD |",
            "|---|---|---:|---:|---:|",
        ]
        out.extend(
            f"| `{c.address}` | {_md(c.label)} | {money(c.old)} | {money(c.new)} | {signed(c.delta)} |"
            for c in d.changed
        )
    return "\n".join(out) + "\n"


def render_compare_json(deltas: list[StackDelta]) -> str:
    return (
        json.dumps(
            [
                {
                    "stack": d.name,
                    "old": round(d.old_total, 2),
                    "new": round(d.new_total, 2),
                    "delta": round(d.delta, 2),
                    "changed": [
                        {
                            "address": c.address,
                            "item": c.item,
                            "old_item": c.old_item,
                            "old": round(c.old, 4),
                            "new": round(c.new, 4),
                        }
                        for c in d.changed
                    ],
                }
                for d in deltas
            ],
            indent=2,
        )
        + "\n"
    )


# --- command line ---------------------------------------------------------------------------------


def parse_assumptions(pairs: list[str]) -> dict[str, float]:
    assume = {key: float(value) for key, (value, _) in ASSUMPTIONS.items()}
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


def default_dirs() -> list[Path]:
    for candidate in (DEFAULT_STACKS, ROOT / DEFAULT_STACKS):
        if candidate.is_dir():
            return [candidate]
    raise CostError(f"{DEFAULT_STACKS} does not exist: synthesize first (`pipenv run synth`)")


def main(argv: list[str] | None = None, stdout=None) -> int:
    stdout = stdout or sys.stdout
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="stack dir, stacks dir or cdktf output dir (default: cdktf.out/stacks)",
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="OLD_DIR",
        help="price OLD_DIR too and show how each stack's monthly cost moves",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when any resource is unpriced")
    parser.add_argument(
        "--prices", type=Path, default=DEFAULT_PRICES, help="prices file (default: %(default)s)"
    )
    parser.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="KEY=NUMBER",
        help="change a usage assumption; see the report's list",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list the free resource types")
    args = parser.parse_args(argv)
    try:
        assume = parse_assumptions(args.assume)
        prices = load_prices(args.prices)
        reports = price_dirs(args.dirs or default_dirs(), prices, assume)
        old = price_dirs([args.compare], prices, assume) if args.compare else None
    except CostError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if old is not None:
        deltas = compare(old, reports)
        if args.format == "markdown":
            stdout.write(render_compare_markdown(deltas))
        elif args.format == "json":
            stdout.write(render_compare_json(deltas))
        else:
            stdout.write(render_compare_text(deltas))
    elif args.format == "markdown":
        stdout.write(render_markdown(reports, assume))
    elif args.format == "json":
        stdout.write(render_json(reports, assume))
    else:
        stdout.write(render_text(reports, assume, args.verbose))
    unpriced = [u for r in reports + (old or []) for u in r.unpriced]
    if unpriced:
        print(
            f"{'error' if args.strict else 'warning'}: {len(unpriced)} unpriced resource(s): "
            + ", ".join(sorted({u.type for u in unpriced})),
            file=sys.stderr,
        )
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
