"""Option 1's "ECS tasks do not start": the service's running count, its recent events, its stopped
tasks' reasons, and the target group's health, each failure classified with its fix."""

from __future__ import annotations

from collections import Counter
from typing import Any

from modules.names import FARGATE_STACK
from modules.settings import Settings
from tools.doctor.app import Fargate
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.classify import Cause, event_cause, stopped_task_cause
from tools.doctor.fixes import Names, fixes_for
from tools.doctor.images import image_checks
from tools.doctor.model import Check, ok, problem, unchecked
from tools.doctor.roles import execution_role_checks

AREA = "tasks"
STACK = FARGATE_STACK
EVENTS = 20  # how far back the events are read, at most: back to the last steady state


def task_checks(aws: Aws, settings: Settings, outputs: dict[str, Any], fargate: Fargate) -> list[Check]:
    title = f"the service {settings.service_name} exists"
    if fargate.service is None:
        if fargate.missing:
            return [problem(STACK, AREA, title, fargate.why, [f"python -m tools.cdktf deploy {STACK}"])]
        return [unchecked(STACK, AREA, title, fargate.why)]
    service, definition = fargate.service, fargate.task_definition
    cluster = outputs.get("cluster_name", settings.cluster_name)
    image = next((c["image"] for c in (definition or {}).get("containerDefinitions", [])), "")
    names = Names(
        region=aws.region,
        cluster=cluster,
        service=service["serviceName"],
        log_group=outputs.get("log_group", f"/ecs/{settings.app_name}"),
        tag_parameter=outputs.get("image_tag_parameter", settings.image_tag_parameter),
        repository=image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image,
        health_path=settings.health_check_path,
        memory=int((definition or {}).get("memory") or settings.fargate_memory),
    )
    events, event_causes = events_check(service, names)
    stopped, stopped_causes = stopped_check(aws, cluster, service, names)
    checks = [running_check(service, [*event_causes, *stopped_causes], names), events, stopped]
    if definition is None:
        checks.append(unchecked(STACK, AREA, "the task definition", fargate.why))
    else:
        checks += image_checks(aws, definition, names)
        checks += execution_role_checks(aws, definition)
    checks.append(_targets(aws, service, names))
    return checks


def _fixes(causes: list[Cause], names: Names) -> list[str]:
    return list(dict.fromkeys(fix for cause in causes for fix in fixes_for(cause.kind, names)))


def _summary(causes: list[Cause]) -> str:
    counts = Counter(c.kind for c in causes)
    first = {c.kind: c.text for c in reversed(causes)}
    return "; ".join(f"{kind} x{n}: {first[kind]}" for kind, n in counts.most_common())


def running_check(service: dict[str, Any], causes: list[Cause], names: Names) -> Check:
    title = "the service runs the tasks it wants"
    running, desired, pending = (
        service.get("runningCount", 0),
        service.get("desiredCount", 0),
        service.get("pendingCount", 0),
    )
    seen = f"{running} of {desired} running, {pending} pending"
    primary = next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})
    if running >= desired:
        return ok(STACK, AREA, title, seen)
    if causes or primary.get("rolloutState") == "FAILED":
        why = _summary(causes) if causes else primary.get("rolloutStateReason", "the deployment failed")
        return problem(STACK, AREA, title, f"{seen}: {why}", _fixes(causes, names) or fixes_for("", names))
    return unchecked(
        STACK,
        AREA,
        title,
        f"{seen}, and no event or stopped task says why yet: run the doctor again in a few minutes",
    )


def events_check(service: dict[str, Any], names: Names) -> tuple[Check, list[Cause]]:
    title = "the service's recent events report no failure"
    events = service.get("events", [])[:EVENTS]  # newest first
    if not events:
        return ok(STACK, AREA, title, "no events to report"), []
    recent = []
    for event in events:
        if "has reached a steady state" in event.get("message", ""):
            break
        recent.append(event)
    causes = [c for c in (event_cause(e.get("message", "")) for e in recent) if c]
    if causes:
        return problem(STACK, AREA, title, _summary(causes), _fixes(causes, names)), causes
    if not recent:
        return ok(STACK, AREA, title, f"steady state since {events[0].get('createdAt')}"), []
    return ok(STACK, AREA, title, f"{len(recent)} event(s) since the last steady state, none a failure"), []


def stopped_check(aws: Aws, cluster: str, service: dict[str, Any], names: Names) -> tuple[Check, list[Cause]]:
    title = "no task stopped for a failure (ECS keeps stopped tasks about an hour)"
    try:
        arns = aws.call(
            "ecs", "list_tasks", cluster=cluster, serviceName=service["serviceName"], desiredStatus="STOPPED"
        )["taskArns"][:100]
        tasks = aws.call("ecs", "describe_tasks", cluster=cluster, tasks=arns)["tasks"] if arns else []
    except CallFailed as error:
        return unchecked(STACK, AREA, title, str(error)), []
    causes = [c for c in (stopped_task_cause(t) for t in tasks) if c]
    if causes:
        return problem(
            STACK,
            AREA,
            title,
            f"{len(causes)} of {len(tasks)} stopped task(s): {_summary(causes)}",
            _fixes(causes, names),
        ), causes
    return ok(
        STACK,
        AREA,
        title,
        f"{len(tasks)} stopped task(s), none for a failure" if tasks else "no stopped task",
    ), []


def _targets(aws: Aws, service: dict[str, Any], names: Names) -> Check:
    title = "the load balancer finds the tasks healthy"
    arns = [lb["targetGroupArn"] for lb in service.get("loadBalancers", []) if lb.get("targetGroupArn")]
    if not arns:
        return unchecked(STACK, AREA, title, f"{names.service} names no target group")
    unhealthy, healthy, waiting = [], 0, []
    try:
        for arn in arns:
            for target in aws.call("elbv2", "describe_target_health", TargetGroupArn=arn)[
                "TargetHealthDescriptions"
            ]:
                health, who = target.get("TargetHealth", {}), target["Target"]["Id"]
                state = health.get("State")
                if state == "healthy":
                    healthy += 1
                elif state in ("initial", "draining"):
                    waiting.append(f"{who} {state}")
                else:
                    unhealthy.append(
                        f"{who} {state}: {health.get('Reason', '')} {health.get('Description', '')}".strip()
                    )
        group = aws.call("elbv2", "describe_target_groups", TargetGroupArns=arns[:1])["TargetGroups"][0]
    except CallFailed as error:
        return unchecked(STACK, AREA, title, str(error))
    where = f"{group['TargetGroupName']} checks {group.get('HealthCheckPath', '/')} on {group.get('HealthCheckPort', 'traffic-port')}"
    if unhealthy:
        return problem(
            STACK, AREA, title, f"{where}: {'; '.join(unhealthy)}", fixes_for("health check failing", names)
        )
    if healthy:
        return ok(
            STACK, AREA, title, f"{where}: {healthy} healthy" + (f", {', '.join(waiting)}" if waiting else "")
        )
    if waiting:
        return unchecked(
            STACK, AREA, title, f"{where}: {', '.join(waiting)}: run the doctor again in a minute"
        )
    return unchecked(STACK, AREA, title, f"{where}: no target registered (a task registers once it runs)")
