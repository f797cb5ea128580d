"""CloudWatch log groups, the alert topic, and alarms that notify it.

The alarms' rules are plain data (``*_alarms``): ``Monitoring`` makes alarms of them, and the
dashboards (``modules/dashboard.py``) draw the same metrics with the same thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.policy import skip_check

# RDS event categories worth waking someone for (``aws rds describe-event-categories``).
DATABASE_EVENT_CATEGORIES = (
    "availability",
    # a master password reset, automated backups turned off, a conversion to Single-AZ
    "configuration change",
    "failover",
    "failure",
    "low storage",
    "maintenance",
    "notification",
)


def log_group(
    scope: Construct, id_: str, *, name: str, retention_days: int, kms_key_arn: str | None
) -> aws.cloudwatch_log_group.CloudwatchLogGroup:
    """A CloudWatch log group with a retention (never "forever") and the stack's key."""
    group = aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope, id_, name=name, retention_in_days=retention_days, kms_key_id=kms_key_arn
    )
    skip_check(
        group,
        "CKV_AWS_338",
        "retention is the log_retention_days setting (30 days, 90 in prod), "
        "following the guide's advice to delete logs after 30 days; a year is a compliance choice",
    )
    return group


class AlertTopic(Construct):
    """The topic every alarm of every stack notifies, encrypted with the data tier's key."""

    topic_arn: str  # where every alarm notifies

    def __init__(
        self, scope: Construct, id_: str, *, name: str, kms_key_arn: str, alert_email: str | None = None
    ) -> None:
        super().__init__(scope, id_)
        # The customer key's policy lets CloudWatch alarms publish; with aws/sns they could not.
        topic = aws.sns_topic.SnsTopic(self, "alerts", name=name, kms_master_key_id=kms_key_arn)
        if alert_email:
            # AWS mails a confirmation link; alerts flow once it is clicked.
            aws.sns_topic_subscription.SnsTopicSubscription(
                self, "alerts-email", topic_arn=topic.arn, protocol="email", endpoint=alert_email
            )
        self.topic_arn = topic.arn


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric, as an alarm reads it and a dashboard draws it."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    statistic: str = "Average"
    period_seconds: int = 300
    label: str = ""  # the dashboard's legend; empty: CloudWatch's own


@dataclass(frozen=True)
class AlarmRule:
    """An alarm on one metric: it fires after ``evaluation_periods`` periods beyond the threshold."""

    id_: str  # the alarm's construct id
    name: str
    description: str
    metric: Metric
    threshold: float
    comparison: str = "GreaterThanThreshold"
    evaluation_periods: int = 2
    extra_actions: tuple[str, ...] = ()


def database_alarms(identifier: str) -> tuple[AlarmRule, ...]:
    """CPU and free storage of an RDS instance (autoscaling storage still has a ceiling)."""
    dimensions = {"DBInstanceIdentifier": identifier}
    return (
        AlarmRule(
            "database-cpu",
            name=f"{identifier}-cpu-high",
            description=f"{identifier} CPU above 80 %",
            metric=Metric("AWS/RDS", "CPUUtilization", dimensions),
            threshold=80,
        ),
        AlarmRule(
            "database-storage",
            name=f"{identifier}-storage-low",
            description=f"{identifier} has less than 2 GiB of free storage",
            metric=Metric("AWS/RDS", "FreeStorageSpace", dimensions, statistic="Minimum"),
            threshold=2 * 1024**3,
            comparison="LessThanThreshold",
        ),
    )


def cache_nodes(replication_group_id: str, cache_clusters: int) -> list[str]:
    """The member clusters of a replication group, as ElastiCache names them: <group>-001, -002, ..."""
    return [f"{replication_group_id}-{number:03d}" for number in range(1, cache_clusters + 1)]


def cache_alarms(replication_group_id: str, cache_clusters: int) -> tuple[AlarmRule, ...]:
    """Engine CPU and memory of every node."""
    rules = []
    for number, node in enumerate(cache_nodes(replication_group_id, cache_clusters), start=1):
        dimensions = {"CacheClusterId": node}
        rules += [
            AlarmRule(
                f"cache-{number}-cpu",
                name=f"{node}-cpu-high",
                description=f"{node} engine CPU above 80 %",
                metric=Metric("AWS/ElastiCache", "EngineCPUUtilization", dimensions, label=node),
                threshold=80,
            ),
            AlarmRule(
                f"cache-{number}-memory",
                name=f"{node}-memory-high",
                description=f"{node} memory above 80 %",
                metric=Metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dimensions, label=node),
                threshold=80,
            ),
        ]
    return tuple(rules)


def service_alarms(cluster_name: str, service_name: str) -> tuple[AlarmRule, ...]:
    """The guide's alarms for an ECS service: CPU and memory above 80 %."""
    dimensions = {"ClusterName": cluster_name, "ServiceName": service_name}
    return tuple(
        AlarmRule(
            f"service-{label}",
            name=f"{service_name}-{label}-high",
            description=f"{service_name} {label} above 80 %",
            metric=Metric("AWS/ECS", metric, dimensions),
            threshold=80,
        )
        for metric, label in (("CPUUtilization", "cpu"), ("MemoryUtilization", "memory"))
    )


def load_balancer_alarms(
    name: str, load_balancer_suffix: str, target_group_suffix: str
) -> tuple[AlarmRule, ...]:
    """Failed health checks (any unhealthy target) and server errors from the targets."""
    dimensions = {"LoadBalancer": load_balancer_suffix, "TargetGroup": target_group_suffix}
    return (
        AlarmRule(
            "unhealthy-targets",
            name=f"{name}-unhealthy-targets",
            description=f"A target of {name} fails its health check",
            metric=Metric(
                "AWS/ApplicationELB", "UnHealthyHostCount", dimensions, statistic="Maximum", period_seconds=60
            ),
            threshold=0,
            evaluation_periods=3,
        ),
        AlarmRule(
            "target-5xx",
            name=f"{name}-target-5xx",
            description=f"Targets of {name} answer 5xx",
            metric=Metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dimensions, statistic="Sum"),
            threshold=10,
            evaluation_periods=1,
        ),
    )


def host_alarms(name: str, instance_id: str, region: str) -> tuple[AlarmRule, ...]:
    """CPU above 80 %, and a failed system status check, which EC2 also answers by recovering
    the instance onto healthy hardware (same ID, addresses and volume)."""
    dimensions = {"InstanceId": instance_id}

    def check(metric: str) -> Metric:
        return Metric("AWS/EC2", metric, dimensions, statistic="Maximum", period_seconds=60)

    return (
        AlarmRule(
            "host-cpu",
            name=f"{name}-cpu-high",
            description=f"{name} CPU above 80 %",
            metric=Metric("AWS/EC2", "CPUUtilization", dimensions),
            threshold=80,
        ),
        AlarmRule(
            "host-system-check",
            name=f"{name}-system-check-failed",
            description=f"{name} failed its system status check; EC2 recovers it",
            metric=check("StatusCheckFailed_System"),
            threshold=0,
            extra_actions=(f"arn:aws:automate:{region}:ec2:recover",),
        ),
        AlarmRule(
            "host-instance-check",
            name=f"{name}-instance-check-failed",
            description=f"{name} failed its instance status check (the OS is not answering)",
            metric=check("StatusCheckFailed_Instance"),
            threshold=0,
            evaluation_periods=3,
        ),
    )


class Monitoring(Construct):
    """Alarms to one topic; ``watch_*`` add the alarms of one resource each and return their rules."""

    def __init__(self, scope: Construct, id_: str, *, topic_arn: str) -> None:
        super().__init__(scope, id_)
        self.topic_arn = topic_arn

    def watch_database(self, identifier: str) -> tuple[AlarmRule, ...]:
        return self.watch(database_alarms(identifier))

    def notify_database_events(self, instance_identifier: str, parameter_group_name: str) -> None:
        """What metrics do not show: a Multi-AZ failover, a failure, low storage, maintenance, a change
        to the instance's configuration, and any change to its parameter group (``rds.force_ssl``).

        Both arguments must be the resources' attributes, not names: RDS refuses a subscription to a
        source that does not exist yet, and the references order them.
        """
        subscriptions = (
            ("database-events", "db-instance", instance_identifier, DATABASE_EVENT_CATEGORIES),
            ("parameter-group-events", "db-parameter-group", parameter_group_name, ("configuration change",)),
        )
        for id_, source_type, source, categories in subscriptions:
            aws.db_event_subscription.DbEventSubscription(
                self,
                id_,
                name=f"{source}-events",
                sns_topic=self.topic_arn,
                source_type=source_type,
                source_ids=[source],
                event_categories=list(categories),
            )

    def watch_cache(self, replication_group_id: str, cache_clusters: int) -> tuple[AlarmRule, ...]:
        return self.watch(cache_alarms(replication_group_id, cache_clusters))

    def watch_service(self, cluster_name: str, service_name: str) -> tuple[AlarmRule, ...]:
        return self.watch(service_alarms(cluster_name, service_name))

    def watch_load_balancer(
        self, name: str, load_balancer_suffix: str, target_group_suffix: str
    ) -> tuple[AlarmRule, ...]:
        return self.watch(load_balancer_alarms(name, load_balancer_suffix, target_group_suffix))

    def watch_host(self, name: str, instance_id: str, region: str) -> tuple[AlarmRule, ...]:
        return self.watch(host_alarms(name, instance_id, region))

    def watch(self, rules: tuple[AlarmRule, ...]) -> tuple[AlarmRule, ...]:
        """An alarm per rule that notifies the topic when it fires and again when it clears."""
        for rule in rules:
            metric = rule.metric
            aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                rule.id_,
                alarm_name=rule.name,
                alarm_description=rule.description,
                namespace=metric.namespace,
                metric_name=metric.name,
                dimensions=metric.dimensions,
                statistic=metric.statistic,
                period=metric.period_seconds,
                evaluation_periods=rule.evaluation_periods,
                threshold=rule.threshold,
                comparison_operator=rule.comparison,
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic_arn, *rule.extra_actions],
                ok_actions=[self.topic_arn],
            )
        return rules
