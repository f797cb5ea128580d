"""One dashboard per compute: the metrics its alarms (and the data tier's) watch, of its own resources."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from modules.names import COMPUTE_STACKS, DATA_STACK, EC2_STACK, FARGATE_STACK
from tests.synth import Synth
from tools.tfjson import REFERENCE, Stack, ref, remote_output

# What each dimension names, and where a literal value of it is found: (resource type, its argument).
DIMENSIONS: dict[str, tuple[str, str]] = {
    "ClusterName": ("aws_ecs_cluster", "name"),
    "ServiceName": ("aws_ecs_service", "name"),
    "LoadBalancer": ("aws_lb", "arn_suffix"),
    "TargetGroup": ("aws_lb_target_group", "arn_suffix"),
    "InstanceId": ("aws_instance", "id"),
    "DBInstanceIdentifier": ("aws_db_instance", "identifier"),
    "CacheClusterId": ("aws_elasticache_replication_group", "replication_group_id"),
}


def dashboard(stack: Stack) -> dict[str, Any]:
    return stack.resource("aws_cloudwatch_dashboard")


def metrics(body: str) -> list[tuple[str, str, dict[str, str]]]:
    """``(namespace, metric, dimensions)`` of every metric of every widget of a dashboard body."""
    found = []
    for widget in json.loads(body)["widgets"]:
        for row in widget["properties"]["metrics"]:
            namespace, metric, *rest = (part for part in row if not isinstance(part, dict))
            found.append((namespace, metric, dict(zip(rest[::2], rest[1::2], strict=True))))
    return found


def _names(stack: Stack, type_: str, argument: str) -> set[str]:
    """What a literal dimension value may be: the argument of a resource of the type, or for a
    replication group, its member clusters' names (<group>-001, ...)."""
    names = set()
    for body in stack.resources(type_).values():
        value = body.get(argument)
        if type_ == "aws_elasticache_replication_group":
            names |= {f"{value}-{n:03d}" for n in range(1, body.get("num_cache_clusters", 1) + 1)}
        elif isinstance(value, str):
            names.add(value)
    return names


def _resolves(stack: Stack, deployment: dict[str, Stack], value: str, type_: str, argument: str) -> bool:
    """Whether a dimension value names a resource of ``type_`` in ``stack``: a literal name, a
    reference to the attribute, or a remote-state output (read by ``stack``) that resolves so."""
    if "${" not in value:
        return value in _names(stack, type_, argument)
    if (producer := remote_output(value)) is not None:
        stack_name, output = producer
        source = deployment.get(stack_name)
        return (
            stack_name in stack.data("terraform_remote_state")
            and source is not None
            and output in source.outputs
            and _resolves(source, deployment, source.outputs[output]["value"], type_, argument)
        )
    match = re.fullmatch(r"\$\{" + REFERENCE.pattern + r"\}", value)
    return bool(match) and (match[1], match[3]) == (type_, argument) and match[2] in stack.resources(type_)


def foreign_dimensions(synth: Synth, stack_name: str, body: str) -> list[str]:
    """Every dimension of ``body`` that is not a resource of the deployment's ``stack_name`` or of the
    data tier it reads, one line each."""
    stack, data = synth[stack_name], synth[DATA_STACK]
    deployment = {DATA_STACK: data, stack_name: stack}
    problems = []
    for namespace, metric, dimensions in metrics(body):
        for name, value in dimensions.items():
            type_, argument = DIMENSIONS.get(name, ("", ""))
            if not type_ or not any(
                _resolves(where, deployment, value, type_, argument) for where in (stack, data)
            ):
                problems.append(
                    f"{namespace} {metric}: {name}={value} is no {type_ or 'known'} of {stack_name}"
                )
    return problems


@pytest.mark.parametrize("config", ["default", "production", "lean"])
@pytest.mark.parametrize("stack_name", COMPUTE_STACKS)
def test_every_metric_is_of_a_resource_of_the_deployment(request, config, stack_name):
    synth = request.getfixturevalue(config)
    assert foreign_dimensions(synth, stack_name, dashboard(synth[stack_name])["dashboard_body"]) == []


def test_the_checker_rejects_a_foreign_cluster_a_missing_resource_and_an_unread_output(default):
    body = json.loads(dashboard(default[FARGATE_STACK])["dashboard_body"])
    row = body["widgets"][0]["properties"]["metrics"][0]
    foreign = [
        ["AWS/ECS", "CPUUtilization", "ClusterName", "someone-elses-cluster", "ServiceName", row[5], {}],
        ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", "${aws_lb.not_here.arn_suffix}", {}],
        [
            "AWS/EC2",
            "CPUUtilization",
            "InstanceId",
            "${data.terraform_remote_state.homu-other.outputs.id}",
            {},
        ],
        ["AWS/ElastiCache", "Evictions", "CacheClusterId", "homu-redis-002", {}],  # one node in dev
    ]
    body["widgets"][0]["properties"]["metrics"] = foreign
    problems = foreign_dimensions(default, FARGATE_STACK, json.dumps(body))
    assert [line.split(":")[0] for line in problems] == [
        "AWS/ECS CPUUtilization",
        "AWS/ApplicationELB HealthyHostCount",
        "AWS/EC2 CPUUtilization",
        "AWS/ElastiCache Evictions",
    ]
    # The EC2 stack has no load balancer: its own dashboard's widgets would be foreign there too.
    assert foreign_dimensions(default, EC2_STACK, dashboard(default[FARGATE_STACK])["dashboard_body"])


def titled(stack: Stack) -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    widgets = json.loads(dashboard(stack)["dashboard_body"])["widgets"]
    return {w["properties"]["title"]: metrics(json.dumps({"widgets": [w]})) for w in widgets}


DATA_TIER = {
    "Database CPU (%)", "Database free storage (bytes)", "Database connections",
    "Cache engine CPU (%)", "Cache memory used (%)", "Cache evictions",
}  # fmt: skip


def test_each_option_has_its_own_widgets_and_the_data_tiers(default):
    fargate, ec2 = titled(default[FARGATE_STACK]), titled(default[EC2_STACK])
    assert set(fargate) == DATA_TIER | {
        "Service CPU (%)", "Service memory (%)", "Running tasks", "Target response time (s)",
        "Target 5xx responses", "Unhealthy and healthy targets",
    }  # fmt: skip
    assert set(ec2) == DATA_TIER | {"Host CPU (%)", "Host status checks failed"}
    namespaces = {
        name: {namespace for graph in widgets.values() for namespace, _, _ in graph}
        for name, widgets in ((FARGATE_STACK, fargate), (EC2_STACK, ec2))
    }
    assert namespaces[FARGATE_STACK] == {
        "AWS/ECS", "ECS/ContainerInsights", "AWS/ApplicationELB", "AWS/RDS", "AWS/ElastiCache",
    }  # fmt: skip
    assert namespaces[EC2_STACK] == {"AWS/EC2", "AWS/RDS", "AWS/ElastiCache"}


def test_the_alarms_metrics_are_drawn_with_their_thresholds(default):
    """Each compute's alarms and the data tier's: every one on its stack's dashboard, its threshold too."""
    data_alarms = list(default[DATA_STACK].resources("aws_cloudwatch_metric_alarm").values())
    for name in COMPUTE_STACKS:
        stack = default[name]
        widgets = json.loads(dashboard(stack)["dashboard_body"])["widgets"]
        alarms = [*stack.resources("aws_cloudwatch_metric_alarm").values(), *data_alarms]
        for alarm in alarms:
            drawn = [
                w["properties"]
                for w in widgets
                if (alarm["namespace"], alarm["metric_name"], alarm["dimensions"])
                in metrics(json.dumps({"widgets": [w]}))
            ]
            assert drawn, f"{name}: {alarm['alarm_name']} is not drawn"
            lines = [line["value"] for p in drawn for line in p.get("annotations", {}).get("horizontal", [])]
            assert alarm["threshold"] in lines, f"{name}: {alarm['alarm_name']}'s threshold is not drawn"


def test_every_cache_node_is_drawn(production):
    widgets = titled(production[EC2_STACK])
    for title in ("Cache engine CPU (%)", "Cache memory used (%)", "Cache evictions"):
        assert [d["CacheClusterId"] for _, _, d in widgets[title]] == ["homu-redis-001", "homu-redis-002"]


def test_without_container_insights_the_running_tasks_are_the_healthy_targets(lean, default):
    (running,) = titled(lean[FARGATE_STACK])["Running tasks"]
    assert running[:2] == ("AWS/ApplicationELB", "HealthyHostCount")
    (insights,) = titled(default[FARGATE_STACK])["Running tasks"]
    assert insights[:2] == ("ECS/ContainerInsights", "RunningTaskCount")
    assert insights[2] == {"ClusterName": "homu-cluster", "ServiceName": "homu-backend-service"}


@pytest.mark.parametrize(
    ("stack_name", "name"), [(FARGATE_STACK, "homu-dev-fargate"), (EC2_STACK, "homu-dev-ec2")]
)
def test_name_and_url_are_outputs(default, stack_name, name):
    stack = default[stack_name]
    board = dashboard(stack)
    assert board["dashboard_name"] == name
    attribute = ref(stack.address("aws_cloudwatch_dashboard", board), "dashboard_name")
    assert stack.outputs["dashboard_name"]["value"] == attribute
    assert stack.outputs["dashboard_url"]["value"] == (
        "https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2"
        f"#dashboards/dashboard/{attribute}"
    )
