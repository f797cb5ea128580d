"""Every role an AWS service assumes carries AWS's confused-deputy guard (EC2 excepted)."""

from __future__ import annotations

import json

import pytest

# EC2 sends neither aws:SourceAccount nor aws:SourceArn when it assumes an instance role.
WITHOUT_SOURCE_KEYS = {"ec2.amazonaws.com"}


def service_trusts(synth):
    for stack in synth.stacks.values():
        for name, role in stack.resources("aws_iam_role").items():
            for statement in json.loads(role["assume_role_policy"])["Statement"]:
                service = statement["Principal"].get("Service")
                if service:
                    yield f"{stack.name}/{name}", service, statement.get("Condition", {})


@pytest.mark.parametrize("config", ["default", "production"])
def test_service_roles_can_be_assumed_only_on_behalf_of_this_account(request, config):
    trusts = list(service_trusts(request.getfixturevalue(config)))
    services = {service for _, service, _ in trusts}
    assert services >= {
        "ecs-tasks.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
        "monitoring.rds.amazonaws.com",
    }
    for role, service, condition in trusts:
        if service in WITHOUT_SOURCE_KEYS:
            continue
        assert "aws:SourceAccount" in condition.get("StringEquals", {}), role
        assert "aws:SourceArn" in condition.get("ArnLike", {}), role
