"""Emulator patches that change moto's answers, shown against a real in-process moto."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tools.rehearsal.emulator import Emulator
from tools.rehearsal.terraform import Terraform, emulator_environment

REGION = "ap-northeast-2"


@pytest.fixture(scope="module")
def emulator():
    # One per module: moto's state is global to the process, so two emulators at once would share it.
    with Emulator(REGION) as running:
        yield running


@pytest.fixture(scope="module")
def ec2(emulator):
    return emulator.client("ec2")


def _authorize(ec2, group_id: str, attempt: int | None) -> dict:
    def mark(request, **_):
        request.headers["amz-sdk-request"] = f"attempt={attempt}; max=3"

    if attempt:
        ec2.meta.events.register_first("before-send.ec2.AuthorizeSecurityGroupIngress", mark)
    try:
        return ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
    finally:
        ec2.meta.events.unregister("before-send.ec2.AuthorizeSecurityGroupIngress", mark)


def test_a_retried_rule_authorization_answers_like_its_lost_first_attempt(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="retry-sg", Description="d", VpcId=vpc)["GroupId"]
    first = _authorize(ec2, group, None)["SecurityGroupRules"]
    # The same call again as the SDK's second attempt: answered, and still one rule in the group.
    retried = _authorize(ec2, group, 2)["SecurityGroupRules"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])[
        "SecurityGroupRules"
    ]
    ingress = [rule for rule in rules if not rule["IsEgress"]]
    assert [rule["SecurityGroupRuleId"] for rule in ingress] == [retried[0]["SecurityGroupRuleId"]]
    assert retried[0]["SecurityGroupRuleId"] != first[0]["SecurityGroupRuleId"]
    # A genuine second request (a first attempt) is still refused, as AWS refuses it.
    with pytest.raises(ClientError, match="InvalidPermission.Duplicate"):
        _authorize(ec2, group, None)


def _user(cache, user_id: str, name: str, mode: str) -> None:
    cache.create_user(
        UserId=user_id,
        UserName=name,
        Engine="redis",
        AccessString="on ~* +@all",
        AuthenticationMode={"Type": mode},
    )


def test_user_groups_keep_awss_rules(emulator):
    cache = emulator.client("elasticache")
    _user(cache, "rules-app", "rules-app", "iam")
    _user(cache, "rules-default", "default", "no-password-required")
    # AWS reports the output enum: no-password, not the input's no-password-required.
    assert cache.describe_users(UserId="rules-default")["Users"][0]["Authentication"]["Type"] == "no-password"
    with pytest.raises(ClientError, match="DefaultUserRequired"):
        cache.create_user_group(UserGroupId="rules", Engine="redis", UserIds=["rules-app"])
    created = cache.create_user_group(
        UserGroupId="rules", Engine="redis", UserIds=["rules-app", "rules-default"]
    )
    assert created["Status"] == "creating"
    [group] = cache.describe_user_groups(UserGroupId="rules")["UserGroups"]
    assert group["Status"] == "active"
    assert cache.describe_users(UserId="rules-app")["Users"][0]["UserGroupIds"] == ["rules"]
    with pytest.raises(ClientError, match="InvalidParameterCombination"):  # RBAC needs TLS
        cache.create_replication_group(
            ReplicationGroupId="rules-redis", ReplicationGroupDescription="d", UserGroupIds=["rules"]
        )
    cache.create_replication_group(
        ReplicationGroupId="rules-redis",
        ReplicationGroupDescription="d",
        Engine="redis",
        EngineVersion="7.1",
        TransitEncryptionEnabled=True,
        UserGroupIds=["rules"],
    )
    assert cache.describe_user_groups(UserGroupId="rules")["UserGroups"][0]["ReplicationGroups"] == [
        "rules-redis"
    ]
    with pytest.raises(ClientError, match="InvalidUserGroupState"):
        cache.delete_user_group(UserGroupId="rules")
    with pytest.raises(ClientError, match="DefaultUserAssociatedToUserGroup"):
        cache.delete_user(UserId="rules-default")
    with pytest.raises(ClientError, match="DefaultUserRequired"):
        cache.modify_user_group(UserGroupId="rules", UserIdsToRemove=["rules-default"])
    # Any other member is taken out of its groups with it.
    cache.delete_user(UserId="rules-app")
    assert cache.describe_user_groups(UserGroupId="rules")["UserGroups"][0]["UserIds"] == ["rules-default"]
    cache.modify_replication_group(ReplicationGroupId="rules-redis", UserGroupIdsToRemove=["rules"])
    assert (
        cache.describe_replication_groups(ReplicationGroupId="rules-redis")["ReplicationGroups"][0][
            "UserGroupIds"
        ]
        == []
    )
    assert cache.delete_user_group(UserGroupId="rules")["Status"] == "deleting"
    with pytest.raises(ClientError, match="UserGroupNotFound"):
        cache.describe_user_groups(UserGroupId="rules")
    cache.delete_replication_group(ReplicationGroupId="rules-redis")
    cache.delete_user(UserId="rules-default")  # in no group now


# The data tier's Redis with IAM authentication (a disabled default user, required in every group), and
# an HMAC key; the network is the least a replication group's subnet group needs.
RBAC_CONFIG = """
provider "aws" {
  region                      = "REGION"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  endpoints {
    ec2         = "URL"
    elasticache = "URL"
    kms         = "URL"
    sts         = "URL"
  }
  default_tags {
    tags = { Project = "homu" }
  }
}

resource "aws_vpc" "main" {
  cidr_block = "10.20.0.0/16"
}

resource "aws_subnet" "cache" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "REGIONa"
}

resource "aws_elasticache_subnet_group" "cache" {
  name       = "homu-rbac-cache"
  subnet_ids = [aws_subnet.cache.id]
}

resource "aws_elasticache_user" "app" {
  user_id       = "homu-backend"
  user_name     = "homu-backend"
  engine        = "redis"
  access_string = "on ~* +@all"
  authentication_mode {
    type = "iam"
  }
}

resource "aws_elasticache_user" "default" {
  user_id              = "homu-redis-default"
  user_name            = "default"
  engine               = "redis"
  access_string        = "off -@all"
  no_password_required = true
}

resource "aws_elasticache_user_group" "users" {
  user_group_id = "homu-redis-users"
  engine        = "redis"
  user_ids      = [aws_elasticache_user.app.user_id, aws_elasticache_user.default.user_id]
}

resource "aws_elasticache_replication_group" "redis" {
  replication_group_id       = "homu-rbac-redis"
  description                = "IAM-authenticated Redis"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t4g.micro"
  num_cache_clusters         = 1
  subnet_group_name          = aws_elasticache_subnet_group.cache.name
  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  user_group_ids             = [aws_elasticache_user_group.users.user_group_id]
}

resource "aws_kms_key" "mac" {
  description              = "HMAC key"
  customer_master_key_spec = "HMAC_256"
  key_usage                = "GENERATE_VERIFY_MAC"
  enable_key_rotation      = false
  deletion_window_in_days  = 7
}

output "mac_key" {
  value = aws_kms_key.mac.key_id
}
"""
_FLAGS = ["-input=false", "-no-color"]


@pytest.mark.terraform
def test_iam_authenticated_redis_and_an_hmac_key_apply_replan_clean_and_destroy(
    emulator, terraform_env, tmp_path: Path
):
    (tmp_path / "main.tf").write_text(RBAC_CONFIG.replace("REGION", REGION).replace("URL", emulator.url))
    tf = Terraform("rbac", tmp_path, emulator_environment(terraform_env), emulator.errors)
    tf.run("init", ["init", *_FLAGS], timeout=300)
    tf.run("apply", ["apply", "-auto-approve", *_FLAGS], timeout=600)

    cache = emulator.client("elasticache")
    [group] = cache.describe_user_groups(UserGroupId="homu-redis-users")["UserGroups"]
    assert (group["Status"], sorted(group["UserIds"]), group["ReplicationGroups"]) == (
        "active",
        ["homu-backend", "homu-redis-default"],
        ["homu-rbac-redis"],
    )
    [redis] = cache.describe_replication_groups(ReplicationGroupId="homu-rbac-redis")["ReplicationGroups"]
    assert redis["UserGroupIds"] == ["homu-redis-users"] and not redis["AuthTokenEnabled"]
    assert cache.describe_users(UserId="homu-backend")["Users"][0]["Authentication"] == {"Type": "iam"}
    kms, key = emulator.client("kms"), tf.outputs()["mac_key"]
    mac = kms.generate_mac(KeyId=key, Message=b"session", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify_mac(KeyId=key, Message=b"session", MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]
    with pytest.raises(ClientError, match="KMSInvalidMac"):
        kms.verify_mac(KeyId=key, Message=b"forged", MacAlgorithm="HMAC_SHA_256", Mac=mac)

    # Exit code 0: no changes (2 would be a perpetual diff), or the run fails here.
    tf.run("re-plan", ["plan", "-detailed-exitcode", *_FLAGS], timeout=600)
    tf.run("destroy", ["destroy", "-auto-approve", *_FLAGS], timeout=600)
    assert [g["UserGroupId"] for g in cache.describe_user_groups()["UserGroups"]] == []
    for user in ("homu-backend", "homu-redis-default"):
        with pytest.raises(ClientError, match="UserNotFound"):
            cache.describe_users(UserId=user)
    assert emulator.errors == []
