"""Emulator patches that change moto's answers, shown against a real in-process moto."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tools.rehearsal.emulator import Emulator

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


def test_a_retried_revoke_answers_like_its_lost_first_attempt(ec2):
    """The provider revokes every new group's default egress rule; a retry after a lost answer must not
    fail with InvalidPermission.NotFound (a default rehearsal did, on a loaded machine)."""
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="revoke-sg", Description="d", VpcId=vpc)["GroupId"]
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=everything)
    with pytest.raises(ClientError, match="InvalidPermission.NotFound"):
        ec2.revoke_security_group_egress(GroupId=group, IpPermissions=everything)  # a first attempt

    def retry(request, **_):
        request.headers["amz-sdk-request"] = "attempt=2; max=3"

    ec2.meta.events.register_first("before-send.ec2.RevokeSecurityGroupEgress", retry)
    try:
        assert ec2.revoke_security_group_egress(GroupId=group, IpPermissions=everything)["Return"] is True
    finally:
        ec2.meta.events.unregister("before-send.ec2.RevokeSecurityGroupEgress", retry)
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    assert [r for r in rules["SecurityGroupRules"] if r["IsEgress"]] == []


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


def test_a_service_updated_to_family_and_revision_reports_the_task_definitions_arn(emulator):
    """What Terraform sends once CD has registered a newer revision; the provider reads back an ARN."""
    ecs = emulator.client("ecs")
    ecs.create_cluster(clusterName="arn-cluster")
    first = ecs.register_task_definition(
        family="arn-task", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="arn-cluster", serviceName="arn-service", taskDefinition=first, desiredCount=1)
    ecs.register_task_definition(
        family="arn-task", containerDefinitions=[{"name": "app", "image": "app:2", "memory": 512}]
    )
    ecs.update_service(cluster="arn-cluster", service="arn-service", taskDefinition="arn-task:2")
    (service,) = ecs.describe_services(cluster="arn-cluster", services=["arn-service"])["services"]
    assert service["taskDefinition"] == first.replace("arn-task:1", "arn-task:2")


def test_a_retried_network_acl_entry_answers_like_its_lost_first_attempt(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    entry = {
        "NetworkAclId": acl,
        "RuleNumber": 110,
        "Protocol": "6",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 443, "To": 443},
    }
    ec2.create_network_acl_entry(**entry)
    with pytest.raises(ec2.exceptions.ClientError, match="NetworkAclEntryAlreadyExists"):
        ec2.create_network_acl_entry(**entry)  # a first attempt is refused, as on AWS

    def retry(request, **_):
        request.headers["amz-sdk-request"] = "attempt=2; max=3"

    ec2.meta.events.register_first("before-send.ec2.CreateNetworkAclEntry", retry)
    try:
        ec2.create_network_acl_entry(**entry)
    finally:
        ec2.meta.events.unregister("before-send.ec2.CreateNetworkAclEntry", retry)
    entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    assert [e["RuleNumber"] for e in entries if not e["Egress"] and e["RuleNumber"] == 110] == [110]
