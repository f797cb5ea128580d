"""One customer-managed key per stack, used by everything that stores data."""

from __future__ import annotations

import json

import pytest

from modules.names import COMPUTE_STACKS, DATA_STACK, REMOTE_STATE_STACKS
from tools.tfjson import Stack, ref


def key_arn(stack: Stack) -> str:
    return ref(stack.address("aws_kms_key", stack.named("aws_kms_key", "encryption/key")), "arn")


STORAGE_SERVICES = {
    "homu-fargate": ["ecr.ap-northeast-2.amazonaws.com"],
    "homu-ec2": ["ec2.ap-northeast-2.amazonaws.com"],
}
# Who may use each stack's key besides IAM principals: exactly the services that store with it.
KEY_USERS = {
    DATA_STACK: {"CloudWatchLogsOfThisAccount", "ServicesPublishToTheEncryptedTopic"},
    "homu-fargate": {"CloudWatchLogsOfThisAccount", "StorageServicesOfThisAccount"},
    "homu-ec2": {"CloudWatchLogsOfThisAccount", "StorageServicesOfThisAccount"},
}


def statements(key: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}


@pytest.mark.parametrize("stack_name", REMOTE_STATE_STACKS)
def test_key_rotates_and_its_policy_names_exactly_the_services_that_use_it(default, production, stack_name):
    key = default[stack_name].named("aws_kms_key", "encryption/key")
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == 7
    assert production[stack_name].named("aws_kms_key", "encryption/key")["deletion_window_in_days"] == 30
    policy = statements(key)
    assert set(policy) == {"AccountAdministersThroughIam", *KEY_USERS[stack_name]}
    if logs := policy.get("CloudWatchLogsOfThisAccount"):
        assert logs["Principal"] == {"Service": "logs.ap-northeast-2.amazonaws.com"}
        assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]
    if publishers := policy.get("ServicesPublishToTheEncryptedTopic"):
        # CloudWatch alarms (of every stack) and RDS event notifications publish to the alert topic.
        assert publishers["Principal"] == {
            "Service": ["cloudwatch.amazonaws.com", "events.rds.amazonaws.com"]
        }
        assert publishers["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert list(publishers["Condition"]["StringEquals"]) == ["aws:SourceAccount"]
    if storage := policy.get("StorageServicesOfThisAccount"):
        # Only through the compute's own storage service, and only for this account's principals.
        assert storage["Principal"] == {"AWS": "*"} and "kms:CreateGrant" in storage["Action"]
        condition = storage["Condition"]["StringEquals"]
        assert (
            condition["kms:ViaService"] == STORAGE_SERVICES[stack_name] and "kms:CallerAccount" in condition
        )
    assert (
        default[stack_name].named("aws_kms_alias", "encryption/alias")["name"]
        == f"alias/homu-dev-{stack_name.removeprefix('homu-')}"
    )


@pytest.mark.parametrize("config", ["default", "production"])
def test_the_state_is_encrypted_with_its_own_key_that_only_iam_grants(request, config):
    synth = request.getfixturevalue(config)
    state = synth["homu-state"]
    key = state.resource("aws_kms_key")
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == 30
    # No service may use it: reading the state takes s3:GetObject and kms:Decrypt granted by IAM.
    assert list(statements(key)) == ["AccountAdministersThroughIam"]
    environment = synth.settings.environment
    assert state.resource("aws_kms_alias")["name"] == f"alias/homu-{environment}-state"
    encryption = state.resource("aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    default = encryption["apply_server_side_encryption_by_default"]
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn(state)}
    assert encryption["bucket_key_enabled"] is True
    for name in REMOTE_STATE_STACKS:
        backend = synth[name].config["terraform"]["backend"]["s3"]
        assert backend["kms_key_id"] == f"alias/homu-{environment}-state" and backend["encrypt"] is True


def test_named_state_key_users_and_the_plan_role_are_the_only_ones_who_can_use_it(synth):
    deployer = "arn:aws:iam::123456789012:role/deployer"
    state = synth(state_key_users=[deployer], github_repository="octo/homu")["homu-state"]
    policy = statements(state.resource("aws_kms_key"))
    assert list(policy) == ["AccountAdministersTheKey", "NamedPrincipalsUseTheKey"]
    # The account keeps administering the key (so the list can be fixed) but cannot use it by IAM alone.
    administration = policy["AccountAdministersTheKey"]["Action"]
    assert "kms:PutKeyPolicy" not in administration and "kms:Put*" in administration
    assert not any(
        action.startswith(("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")) for action in administration
    )
    plan_role = ref(state.address("aws_iam_role", state.named("aws_iam_role", "github/plan")), "arn")
    assert policy["NamedPrincipalsUseTheKey"]["Principal"] == {"AWS": [deployer, plan_role]}
    assert "kms:Decrypt" in policy["NamedPrincipalsUseTheKey"]["Action"]


@pytest.mark.parametrize("config", ["default", "production"])
def test_the_image_repository_and_the_host_volume_use_the_stack_key(request, config):
    synth = request.getfixturevalue(config)
    fargate, ec2 = synth["homu-fargate"], synth["homu-ec2"]
    repository = fargate.resource("aws_ecr_repository")
    assert repository["encryption_configuration"] == [{"encryption_type": "KMS", "kms_key": key_arn(fargate)}]
    volume = ec2.resource("aws_instance")["root_block_device"]
    assert volume["encrypted"] is True and volume["kms_key_id"] == key_arn(ec2)


@pytest.mark.parametrize("config", ["default", "production"])
@pytest.mark.parametrize("stack_name", REMOTE_STATE_STACKS)
def test_everything_at_rest_uses_the_stacks_key(request, config, stack_name):
    stack = request.getfixturevalue(config)[stack_name]
    arn = key_arn(stack)
    for group in stack.resources("aws_cloudwatch_log_group").values():
        assert group["kms_key_id"] == arn, group["name"]
    for db in stack.resources("aws_db_instance").values():
        assert (
            db["kms_key_id"]
            == db["master_user_secret_kms_key_id"]
            == db["performance_insights_kms_key_id"]
            == arn
        )
    for cache in stack.resources("aws_elasticache_replication_group").values():
        assert cache["kms_key_id"] == arn
    for topic in stack.resources("aws_sns_topic").values():
        assert topic["kms_master_key_id"] == arn


@pytest.mark.parametrize("config", ["default", "production"])
def test_the_data_tier_is_encrypted_with_the_data_key(request, config):
    data = request.getfixturevalue(config)[DATA_STACK]
    # The database (and RDS's secret), the cache and the topic all live here, under this stack's key.
    for type_ in ("aws_db_instance", "aws_elasticache_replication_group", "aws_sns_topic"):
        assert len(data.resources(type_)) == 1, type_
    assert data.outputs["secrets_key_arn"]["value"] == key_arn(data)
    for name in COMPUTE_STACKS:
        # The computes decrypt RDS's secret with the data tier's key, which they read from its state.
        text = json.dumps(request.getfixturevalue(config)[name].config)
        assert "${data.terraform_remote_state.homu-data.outputs.secrets_key_arn}" in text


def test_database_has_enhanced_monitoring_and_performance_insights(default):
    stack = default[DATA_STACK]
    db = stack.resource("aws_db_instance")
    role = stack.named("aws_iam_role", "database/monitoring-role")
    assert db["monitoring_interval"] == 60 and db["monitoring_role_arn"] == ref(
        stack.address("aws_iam_role", role), "arn"
    )
    [trust] = json.loads(role["assume_role_policy"])["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    # Confused-deputy guard: RDS may assume it only for this account's homu-db.
    assert set(trust["Condition"]["StringEquals"]) == {"aws:SourceAccount"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":db:homu-db")
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:rds:ap-northeast-2:")
    attachment = stack.named("aws_iam_role_policy_attachment", "database/monitoring-policy")
    assert attachment["policy_arn"] == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    assert (db["performance_insights_enabled"], db["performance_insights_retention_period"]) == (True, 7)
