"""One customer-managed key per application stack, used by everything that stores data."""

from __future__ import annotations

import json

import pytest

from tools.tfjson import Stack, ref

APP_STACKS = ["homu-fargate", "homu-ec2"]


def key_arn(stack: Stack) -> str:
    return ref(stack.address("aws_kms_key", stack.resource("aws_kms_key")), "arn")


@pytest.mark.parametrize("stack_name", APP_STACKS)
def test_key_rotates_and_its_policy_names_exactly_the_services_that_use_it(default, production, stack_name):
    key = default[stack_name].resource("aws_kms_key")
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == 7
    assert production[stack_name].resource("aws_kms_key")["deletion_window_in_days"] == 30
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    assert set(statements) == {
        "AccountAdministersThroughIam",
        "CloudWatchLogsOfThisAccount",
        "CloudWatchAlarmsPublishToTheEncryptedTopic",
    }
    assert statements["CloudWatchLogsOfThisAccount"]["Principal"] == {
        "Service": "logs.ap-northeast-2.amazonaws.com"
    }
    assert (
        "kms:EncryptionContext:aws:logs:arn"
        in statements["CloudWatchLogsOfThisAccount"]["Condition"]["ArnLike"]
    )
    alarms = statements["CloudWatchAlarmsPublishToTheEncryptedTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and alarms["Action"] == [
        "kms:Decrypt",
        "kms:GenerateDataKey*",
    ]
    assert (
        default[stack_name].resource("aws_kms_alias")["name"]
        == f"alias/homu-dev-{stack_name.removeprefix('homu-')}"
    )


@pytest.mark.parametrize("config", ["default", "production"])
@pytest.mark.parametrize("stack_name", APP_STACKS)
def test_everything_at_rest_uses_the_key(request, config, stack_name):
    stack = request.getfixturevalue(config)[stack_name]
    arn = key_arn(stack)
    for group in stack.resources("aws_cloudwatch_log_group").values():
        assert group["kms_key_id"] == arn, group["name"]
    for secret in stack.resources("aws_secretsmanager_secret").values():
        assert secret["kms_key_id"] == arn, secret["name"]
    db = stack.resource("aws_db_instance")
    assert (
        db["kms_key_id"]
        == db["master_user_secret_kms_key_id"]
        == db["performance_insights_kms_key_id"]
        == arn
    )
    assert stack.resource("aws_elasticache_replication_group")["kms_key_id"] == arn
    assert stack.resource("aws_sns_topic")["kms_master_key_id"] == arn


def test_database_has_enhanced_monitoring_and_performance_insights(default):
    stack = default["homu-fargate"]
    db = stack.resource("aws_db_instance")
    role = stack.named("aws_iam_role", "database/monitoring-role")
    assert db["monitoring_interval"] == 60 and db["monitoring_role_arn"] == ref(
        stack.address("aws_iam_role", role), "arn"
    )
    assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"] == {
        "Service": "monitoring.rds.amazonaws.com"
    }
    attachment = stack.named("aws_iam_role_policy_attachment", "database/monitoring-policy")
    assert attachment["policy_arn"] == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    assert (db["performance_insights_enabled"], db["performance_insights_retention_period"]) == (True, 7)
