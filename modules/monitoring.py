"""CloudWatch log groups, the alert topic, and alarms that notify it."""

from __future__ import annotations

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


class Monitoring(Construct):
    """Alarms to one topic; ``watch_*`` add the alarms of one resource each."""

    def __init__(self, scope: Construct, id_: str, *, topic_arn: str) -> None:
        super().__init__(scope, id_)
        self.topic_arn = topic_arn

    def watch_database(self, identifier: str) -> None:
        """CPU and free storage of an RDS instance (autoscaling storage still has a ceiling)."""
        dimensions = {"DBInstanceIdentifier": identifier}
        self.alarm(
            "database-cpu",
            name=f"{identifier}-cpu-high",
            description=f"{identifier} CPU above 80 %",
            namespace="AWS/RDS",
            metric="CPUUtilization",
            dimensions=dimensions,
            threshold=80,
        )
        self.alarm(
            "database-storage",
            name=f"{identifier}-storage-low",
            description=f"{identifier} has less than 2 GiB of free storage",
            namespace="AWS/RDS",
            metric="FreeStorageSpace",
            dimensions=dimensions,
            threshold=2 * 1024**3,
            comparison="LessThanThreshold",
            statistic="Minimum",
        )

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

    def watch_cache(self, replication_group_id: str, cache_clusters: int) -> None:
        """Engine CPU and memory of every node (ElastiCache names them <group>-001, -002, ...)."""
        for number in range(1, cache_clusters + 1):
            node = f"{replication_group_id}-{number:03d}"
            dimensions = {"CacheClusterId": node}
            self.alarm(
                f"cache-{number}-cpu",
                name=f"{node}-cpu-high",
                description=f"{node} engine CPU above 80 %",
                namespace="AWS/ElastiCache",
                metric="EngineCPUUtilization",
                dimensions=dimensions,
                threshold=80,
            )
            self.alarm(
                f"cache-{number}-memory",
                name=f"{node}-memory-high",
                description=f"{node} memory above 80 %",
                namespace="AWS/ElastiCache",
                metric="DatabaseMemoryUsagePercentage",
                dimensions=dimensions,
                threshold=80,
            )

    def watch_service(self, cluster_name: str, service_name: str) -> None:
        """The guide's alarms for an ECS service: CPU and memory above 80 %."""
        dimensions = {"ClusterName": cluster_name, "ServiceName": service_name}
        for metric, label in (("CPUUtilization", "cpu"), ("MemoryUtilization", "memory")):
            self.alarm(
                f"service-{label}",
                name=f"{service_name}-{label}-high",
                description=f"{service_name} {label} above 80 %",
                namespace="AWS/ECS",
                metric=metric,
                dimensions=dimensions,
                threshold=80,
            )

    def watch_load_balancer(self, name: str, load_balancer_suffix: str, target_group_suffix: str) -> None:
        """Failed health checks (any unhealthy target) and server errors from the targets."""
        dimensions = {"LoadBalancer": load_balancer_suffix, "TargetGroup": target_group_suffix}
        self.alarm(
            "unhealthy-targets",
            name=f"{name}-unhealthy-targets",
            description=f"A target of {name} fails its health check",
            namespace="AWS/ApplicationELB",
            metric="UnHealthyHostCount",
            dimensions=dimensions,
            threshold=0,
            statistic="Maximum",
            period_seconds=60,
            evaluation_periods=3,
        )
        self.alarm(
            "target-5xx",
            name=f"{name}-target-5xx",
            description=f"Targets of {name} answer 5xx",
            namespace="AWS/ApplicationELB",
            metric="HTTPCode_Target_5XX_Count",
            dimensions=dimensions,
            threshold=10,
            statistic="Sum",
            period_seconds=300,
            evaluation_periods=1,
        )

    def watch_host(self, name: str, instance_id: str, region: str) -> None:
        """CPU above 80 %, and a failed system status check, which EC2 also answers by recovering
        the instance onto healthy hardware (same ID, addresses and volume)."""
        dimensions = {"InstanceId": instance_id}
        self.alarm(
            "host-cpu",
            name=f"{name}-cpu-high",
            description=f"{name} CPU above 80 %",
            namespace="AWS/EC2",
            metric="CPUUtilization",
            dimensions=dimensions,
            threshold=80,
        )
        self.alarm(
            "host-system-check",
            name=f"{name}-system-check-failed",
            description=f"{name} failed its system status check; EC2 recovers it",
            namespace="AWS/EC2",
            metric="StatusCheckFailed_System",
            dimensions=dimensions,
            threshold=0,
            statistic="Maximum",
            period_seconds=60,
            evaluation_periods=2,
            extra_actions=[f"arn:aws:automate:{region}:ec2:recover"],
        )
        self.alarm(
            "host-instance-check",
            name=f"{name}-instance-check-failed",
            description=f"{name} failed its instance status check (the OS is not answering)",
            namespace="AWS/EC2",
            metric="StatusCheckFailed_Instance",
            dimensions=dimensions,
            threshold=0,
            statistic="Maximum",
            period_seconds=60,
            evaluation_periods=3,
        )

    def alarm(
        self,
        id_: str,
        *,
        name: str,
        description: str,
        namespace: str,
        metric: str,
        dimensions: dict[str, str],
        threshold: float,
        comparison: str = "GreaterThanThreshold",
        statistic: str = "Average",
        period_seconds: int = 300,
        evaluation_periods: int = 2,
        extra_actions: list[str] | None = None,
    ) -> aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm:
        """An alarm that notifies the topic when it fires and again when it clears."""
        return aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self,
            id_,
            alarm_name=name,
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=period_seconds,
            evaluation_periods=evaluation_periods,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic_arn, *(extra_actions or [])],
            ok_actions=[self.topic_arn],
        )
