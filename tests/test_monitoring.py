"""Log group, alert topic and the data-tier alarms."""

from __future__ import annotations

import pytest

from modules.names import DATA_STACK, EC2_STACK, FARGATE_STACK
from tools.tfjson import ref

REMOTE_TOPIC = "${data.terraform_remote_state.homu-data.outputs.alert_topic_arn}"


@pytest.mark.parametrize(
    ("stack_name", "name"), [(FARGATE_STACK, "/ecs/homu-backend"), (EC2_STACK, "/ec2/homu-backend")]
)
def test_each_compute_has_its_app_log_group_with_a_retention_and_its_key(
    default, production, stack_name, name
):
    stack = default[stack_name]
    logs = stack.named("aws_cloudwatch_log_group", "app-logs")
    key = ref(stack.address("aws_kms_key", stack.named("aws_kms_key", "encryption/key")), "arn")
    assert (logs["name"], logs["retention_in_days"], logs["kms_key_id"]) == (name, 30, key)
    assert stack.outputs["log_group"]["value"] == ref(stack.address("aws_cloudwatch_log_group", logs), "name")
    assert production[stack_name].named("aws_cloudwatch_log_group", "app-logs")["retention_in_days"] == 90
    # Both options can run in one account: the guide's /ecs/homu-backend is option 1's alone.
    assert [
        other
        for other in (DATA_STACK, FARGATE_STACK, EC2_STACK)
        for body in default[other].resources("aws_cloudwatch_log_group").values()
        if body["name"] == name
    ] == [stack_name]


def test_alert_topic_is_encrypted_and_mails_only_when_an_address_is_set(default, production):
    stack = default[DATA_STACK]
    topic = stack.resource("aws_sns_topic")
    key = stack.address("aws_kms_key", stack.named("aws_kms_key", "encryption/key"))
    # The customer key, whose policy lets CloudWatch alarms publish (aws/sns would not).
    assert topic["name"] == "homu-dev-alerts" and topic["kms_master_key_id"] == ref(key, "arn")
    assert default[DATA_STACK].resources("aws_sns_topic_subscription") == {}
    subscription = production[DATA_STACK].resource("aws_sns_topic_subscription")
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@homu.example.com")


def alarms(stack) -> dict[str, dict]:
    return {body["alarm_name"]: body for body in stack.resources("aws_cloudwatch_metric_alarm").values()}


def test_data_tier_alarms_notify_the_topic(default, production):
    stack = default[DATA_STACK]
    topic = ref(stack.address("aws_sns_topic", stack.resource("aws_sns_topic")), "arn")
    found = alarms(stack)
    assert set(found) >= {
        "homu-db-cpu-high",
        "homu-db-storage-low",
        "homu-redis-001-cpu-high",
        "homu-redis-001-memory-high",
    }
    # Each alarm exists once: the computes watch only their own resources.
    assert not set(found) & (set(alarms(default[FARGATE_STACK])) | set(alarms(default["homu-ec2"])))
    cpu = found["homu-db-cpu-high"]
    assert (cpu["namespace"], cpu["metric_name"], cpu["threshold"], cpu["comparison_operator"]) == (
        "AWS/RDS",
        "CPUUtilization",
        80,
        "GreaterThanThreshold",
    )
    assert cpu["dimensions"] == {"DBInstanceIdentifier": "homu-db"}
    storage = found["homu-db-storage-low"]
    assert (storage["threshold"], storage["comparison_operator"]) == (2 * 1024**3, "LessThanThreshold")
    memory = found["homu-redis-001-memory-high"]
    assert (memory["metric_name"], memory["dimensions"]) == (
        "DatabaseMemoryUsagePercentage",
        {"CacheClusterId": "homu-redis-001"},
    )
    for alarm in found.values():
        assert alarm["alarm_actions"] == [topic] and alarm["ok_actions"] == [topic]
    # One pair of cache alarms per node: the production replica is watched too.
    assert {"homu-redis-002-cpu-high", "homu-redis-002-memory-high"} <= set(alarms(production[DATA_STACK]))


@pytest.mark.parametrize("stack_name", [FARGATE_STACK, "homu-ec2"])
def test_compute_alarms_notify_the_data_tiers_topic(default, stack_name):
    found = alarms(default[stack_name])
    assert found and default[stack_name].resources("aws_sns_topic") == {}
    for alarm in found.values():
        assert alarm["ok_actions"] == [REMOTE_TOPIC] and alarm["alarm_actions"][0] == REMOTE_TOPIC


@pytest.mark.parametrize("config", ["default", "production"])
def test_database_events_reach_the_alert_topic(request, config):
    stack = request.getfixturevalue(config)[DATA_STACK]
    subscriptions = {s["source_type"]: s for s in stack.resources("aws_db_event_subscription").values()}
    assert set(subscriptions) == {"db-instance", "db-parameter-group"}
    instance = ref(stack.address("aws_db_instance", stack.resource("aws_db_instance")), "identifier")
    parameters = ref(
        stack.address("aws_db_parameter_group", stack.resource("aws_db_parameter_group")), "name"
    )
    topic = ref(stack.address("aws_sns_topic", stack.resource("aws_sns_topic")), "arn")
    assert {s["sns_topic"] for s in subscriptions.values()} == {topic}
    # The references (not the names) order the subscriptions after their sources, which RDS requires.
    assert subscriptions["db-instance"]["source_ids"] == [instance]
    assert subscriptions["db-parameter-group"]["source_ids"] == [parameters]
    # What Prowler's rds_instance_critical_event_subscription asks for, and the rest worth waking for.
    assert set(subscriptions["db-instance"]["event_categories"]) == {
        "availability",
        "configuration change",
        "failover",
        "failure",
        "low storage",
        "maintenance",
        "notification",
    }
    # A change to rds.force_ssl (or any parameter) is news too.
    assert subscriptions["db-parameter-group"]["event_categories"] == ["configuration change"]
