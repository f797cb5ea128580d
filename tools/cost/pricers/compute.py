"""ECS on Fargate (services, Container Insights), EC2 instances and EBS volumes."""

from __future__ import annotations

from typing import Any

from tools.cost.model import Line, Unpriced, nested_block
from tools.cost.pricers.context import Context
from tools.cost.schedule import service_task_hours, strategy_split


def _task_definition(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    referenced = ctx.stack.referenced(body.get("task_definition"), "aws_ecs_task_definition")
    if referenced:
        return referenced[0][1]
    family = str(body.get("task_definition", "")).split(":")[0]
    for task in ctx.stack.resources("aws_ecs_task_definition").values():
        if task.get("family") == family:
            return task
    raise Unpriced("task definition not found in the stack, so cpu/memory are unknown")


def price_ecs_service(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_ecs_service.{name}"
    strategy = body.get("capacity_provider_strategy") or []
    if not strategy and not body.get("launch_type"):
        # Neither given: the cluster's default capacity provider strategy applies.
        clusters = {n for n, _ in ctx.stack.referenced(body.get("cluster"), "aws_ecs_cluster")}
        for providers in ctx.stack.resources("aws_ecs_cluster_capacity_providers").values():
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
    platform = nested_block(task.get("runtime_platform"))
    if str(platform.get("operating_system_family", "LINUX")).upper() != "LINUX":
        raise Unpriced("Windows Fargate tasks are not priced")
    arm = str(platform.get("cpu_architecture", "X86_64")).upper() == "ARM64"
    storage = nested_block(task.get("ephemeral_storage"))
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
    network = nested_block(body.get("network_configuration"))
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
        for body_ in ctx.stack.resources("aws_ecs_service").values()
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
    volumes = [("root volume", nested_block(body.get("root_block_device")))]
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
        for eip in ctx.stack.resources("aws_eip").values()
    ) or any(
        ctx.stack.refers_to(association.get("instance_id"), "aws_instance", name)
        for association in ctx.stack.resources("aws_eip_association").values()
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
