"""Emulator patches that change moto's answers, shown against a real in-process moto."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tools.rehearsal.emulator import Emulator


@pytest.fixture(scope="module")
def ec2():
    with Emulator("ap-northeast-2") as emulator:
        yield emulator.client("ec2")


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
