"""One CloudWatch dashboard per compute: the metrics its alarms and the data tier's alarms watch, with
their thresholds drawn, and the few that explain them (running tasks, response time, connections).

Every dimension value is a reference to the stack's own resource or a name the data tier's alarms use,
so the dashboard never shows a resource the deployment does not have (tests/test_dashboard.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from constructs import Construct

from modules import aws
from modules.monitoring import AlarmRule, Metric, cache_alarms, cache_nodes, database_alarms

# The dashboard grid is 24 units wide: three graphs a row.
WIDTH, HEIGHT, PER_ROW = 8, 6, 3


@dataclass(frozen=True)
class Graph:
    """One metric widget: its metrics and the alarm thresholds drawn across it."""

    title: str
    metrics: tuple[Metric, ...]
    alarms: tuple[AlarmRule, ...] = ()


def alarm_graph(title: str, rules: Sequence[AlarmRule], *extra: Metric) -> Graph:
    """The metrics of ``rules`` (and ``extra`` ones) with the rules' thresholds."""
    return Graph(title, (*(rule.metric for rule in rules), *extra), tuple(rules))


def _rules(rules: Sequence[AlarmRule], metric: str) -> list[AlarmRule]:
    return [rule for rule in rules if rule.metric.name == metric]


def data_tier_graphs(*, database_identifier: str, cache_group_id: str, cache_clusters: int) -> list[Graph]:
    """The database's and the cache's graphs: what homu-data's alarms watch, by the names they use."""
    database = database_alarms(database_identifier)
    cache = cache_alarms(cache_group_id, cache_clusters)
    instance = {"DBInstanceIdentifier": database_identifier}
    return [
        alarm_graph("Database CPU (%)", _rules(database, "CPUUtilization")),
        alarm_graph("Database free storage (bytes)", _rules(database, "FreeStorageSpace")),
        Graph(
            "Database connections",
            (Metric("AWS/RDS", "DatabaseConnections", instance, statistic="Maximum"),),
        ),
        alarm_graph("Cache engine CPU (%)", _rules(cache, "EngineCPUUtilization")),
        alarm_graph("Cache memory used (%)", _rules(cache, "DatabaseMemoryUsagePercentage")),
        Graph(
            "Cache evictions",
            tuple(
                Metric("AWS/ElastiCache", "Evictions", {"CacheClusterId": node}, statistic="Sum", label=node)
                for node in cache_nodes(cache_group_id, cache_clusters)
            ),
        ),
    ]


def fargate_graphs(
    *, service: Sequence[AlarmRule], load_balancer: Sequence[AlarmRule], container_insights: bool
) -> list[Graph]:
    """Option 1's graphs: the service's alarms, its running tasks, and its targets as the ALB sees them."""
    targets = load_balancer[0].metric.dimensions
    healthy = Metric(
        "AWS/ApplicationELB", "HealthyHostCount", targets, statistic="Minimum", period_seconds=60
    )
    if container_insights:
        running = Metric("ECS/ContainerInsights", "RunningTaskCount", service[0].metric.dimensions)
    else:
        # RunningTaskCount exists only with Container Insights and AWS/ECS has no task count; every
        # task that serves is a healthy target of the group, which the ALB always publishes for free.
        running = replace(healthy, label="healthy targets (tasks serving)")
    return [
        alarm_graph("Service CPU (%)", _rules(service, "CPUUtilization")),
        alarm_graph("Service memory (%)", _rules(service, "MemoryUtilization")),
        Graph("Running tasks", (running,)),
        Graph("Target response time (s)", (Metric("AWS/ApplicationELB", "TargetResponseTime", targets),)),
        alarm_graph("Target 5xx responses", _rules(load_balancer, "HTTPCode_Target_5XX_Count")),
        alarm_graph("Unhealthy and healthy targets", _rules(load_balancer, "UnHealthyHostCount"), healthy),
    ]


def host_graphs(rules: Sequence[AlarmRule]) -> list[Graph]:
    """Option 2's graphs: the host's CPU and its status checks, with their alarms' thresholds."""
    checks = [rule for rule in rules if rule.metric.name.startswith("StatusCheckFailed")]
    return [
        alarm_graph("Host CPU (%)", _rules(rules, "CPUUtilization")),
        alarm_graph("Host status checks failed", checks),
    ]


def _metric_row(metric: Metric) -> list[Any]:
    """A metric in the widget's array form: namespace, name, dimension pairs, rendering options."""
    pairs = [part for item in metric.dimensions.items() for part in item]
    options: dict[str, Any] = {"stat": metric.statistic, "period": metric.period_seconds}
    if metric.label:
        options["label"] = metric.label
    return [metric.namespace, metric.name, *pairs, options]


def _thresholds(rules: Sequence[AlarmRule]) -> list[dict[str, Any]]:
    """One horizontal line per threshold (the nodes of a cache share theirs), shaded where it fires."""
    lines: dict[tuple[float, str], list[str]] = {}
    for rule in rules:
        lines.setdefault((rule.threshold, rule.comparison), []).append(rule.name)
    return [
        {
            "label": names[0] if len(names) == 1 else f"{len(names)} alarms",
            "value": value,
            "fill": "below" if comparison.startswith("Less") else "above",
        }
        for (value, comparison), names in lines.items()
    ]


def dashboard_body(region: str, graphs: Sequence[Graph]) -> str:
    """The dashboard's JSON: the graphs in rows of three, in the order given."""
    widgets = []
    for index, graph in enumerate(graphs):
        properties: dict[str, Any] = {
            "title": graph.title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "metrics": [_metric_row(metric) for metric in graph.metrics],
        }
        if graph.alarms:
            properties["annotations"] = {"horizontal": _thresholds(graph.alarms)}
        widgets.append(
            {
                "type": "metric",
                "x": index % PER_ROW * WIDTH,
                "y": index // PER_ROW * HEIGHT,
                "width": WIDTH,
                "height": HEIGHT,
                "properties": properties,
            }
        )
    return json.dumps({"widgets": widgets})


def console_url(region: str, name: str) -> str:
    """The dashboard in the CloudWatch console; the stacks deploy to commercial regions only
    (``KNOWN_REGIONS``), whose console is on aws.amazon.com."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"
    )


class Dashboard(Construct):
    """A CloudWatch dashboard of ``graphs``."""

    name: str  # the dashboard's name
    url: str  # where an operator opens it

    def __init__(
        self, scope: Construct, id_: str, *, name: str, region: str, graphs: Sequence[Graph]
    ) -> None:
        super().__init__(scope, id_)
        dashboard = aws.cloudwatch_dashboard.CloudwatchDashboard(
            self, "dashboard", dashboard_name=name, dashboard_body=dashboard_body(region, graphs)
        )
        self.name = dashboard.dashboard_name
        self.url = console_url(region, self.name)
