"""The guide's security-group graph, asserted rule by rule on both architectures.

The data tier owns the database and cache groups and no rule; each compute adds the rules that let
its own backend in, referring to the data tier's groups through ``homu-data``'s outputs.
"""

from __future__ import annotations

import re

import pytest

from modules.names import DATA_STACK
from tests.synth import Synth
from tools.tfjson import Stack, remote_output

WORLD = "0.0.0.0/0"
REFERENCE = re.compile(r"^\$\{aws_security_group\.([^.]+)\.id\}$")


def group_names(stack: Stack) -> dict[str, str]:
    return {address: body["name"] for address, body in stack.resources("aws_security_group").items()}


def rules(synth: Synth, stack_name: str, direction: str) -> set[tuple[str, str, int, int, str]]:
    """(group, protocol, from, to, peer) for every rule of the stack; peer is a CIDR or a group's name,
    the data tier's groups resolved through the output of ``homu-data`` the rule names."""
    stack, data = synth[stack_name], synth[DATA_STACK]
    names, data_names = group_names(stack), group_names(data)

    def name_of(reference: str) -> str:
        if remote := remote_output(reference):
            assert remote[0] == DATA_STACK, reference
            match = REFERENCE.match(data.outputs[remote[1]]["value"])
            assert match, f"output {remote[1]} of {DATA_STACK} is not a group id"
            return data_names[match.group(1)]
        match = REFERENCE.match(reference)
        assert match, f"not a reference to a group: {reference}"
        return names[match.group(1)]

    found = set()
    for body in stack.resources(f"aws_vpc_security_group_{direction}_rule").values():
        peer = body.get("cidr_ipv4") or body.get("cidr_ipv6") or name_of(body["referenced_security_group_id"])
        found.add(
            (
                name_of(body["security_group_id"]),
                body["ip_protocol"],
                body["from_port"],
                body["to_port"],
                peer,
            )
        )
    return found


def test_fargate_ingress_is_exactly_the_guides_graph(default):
    assert rules(default, "homu-fargate", "ingress") == {
        ("homu-alb-sg", "tcp", 80, 80, WORLD),
        ("homu-alb-sg", "tcp", 443, 443, WORLD),
        ("homu-backend-sg", "tcp", 8000, 8000, "homu-alb-sg"),
        ("homu-db-sg", "tcp", 5432, 5432, "homu-backend-sg"),
        ("homu-redis-sg", "tcp", 6379, 6379, "homu-backend-sg"),
    }


def test_fargate_egress_reaches_only_what_each_tier_needs(default):
    assert rules(default, "homu-fargate", "egress") == {
        ("homu-alb-sg", "tcp", 8000, 8000, "homu-backend-sg"),
        ("homu-backend-sg", "tcp", 5432, 5432, "homu-db-sg"),
        ("homu-backend-sg", "tcp", 6379, 6379, "homu-redis-sg"),
        ("homu-backend-sg", "tcp", 443, 443, WORLD),
    }


def test_ec2_host_is_the_entry_and_never_opens_the_app_port_or_ssh_by_default(default):
    assert rules(default, "homu-ec2", "ingress") == {
        ("homu-backend-host-sg", "tcp", 80, 80, WORLD),
        ("homu-backend-host-sg", "tcp", 443, 443, WORLD),
        ("homu-db-sg", "tcp", 5432, 5432, "homu-backend-host-sg"),
        ("homu-redis-sg", "tcp", 6379, 6379, "homu-backend-host-sg"),
    }
    assert rules(default, "homu-ec2", "egress") == {
        ("homu-backend-host-sg", "tcp", 5432, 5432, "homu-db-sg"),
        ("homu-backend-host-sg", "tcp", 6379, 6379, "homu-redis-sg"),
        ("homu-backend-host-sg", "tcp", 443, 443, WORLD),
        ("homu-backend-host-sg", "tcp", 80, 80, WORLD),
    }


@pytest.mark.parametrize("config", ["default", "production"])
def test_the_data_tier_admits_nothing_by_itself(request, config):
    """Only a deployed compute's rules let anything in: destroying a compute closes its way in."""
    data = request.getfixturevalue(config)[DATA_STACK]
    assert sorted(group_names(data).values()) == ["homu-db-sg", "homu-redis-sg"]
    assert rules(request.getfixturevalue(config), DATA_STACK, "ingress") == set()
    assert rules(request.getfixturevalue(config), DATA_STACK, "egress") == set()


def test_both_computes_can_share_one_vpc(default):
    """Group names are unique per VPC, and both computes run beside each other on one data tier."""
    fargate, ec2 = (
        set(group_names(default["homu-fargate"]).values()),
        set(group_names(default["homu-ec2"]).values()),
    )
    assert not fargate & ec2 and not (fargate | ec2) & set(group_names(default[DATA_STACK]).values())


def test_ssh_opens_only_to_the_configured_admin_network(synth):
    configured = synth(admin_cidr="203.0.113.7/32")
    ssh = {rule for rule in rules(configured, "homu-ec2", "ingress") if rule[2] == 22}
    assert ssh == {("homu-backend-host-sg", "tcp", 22, 22, "203.0.113.7/32")}
    # Fargate tasks have no SSH server: the admin network gets nothing there.
    assert [rule for rule in rules(configured, "homu-fargate", "ingress") if rule[2] == 22] == []


@pytest.mark.parametrize("stack_name", ["homu-fargate", "homu-ec2"])
@pytest.mark.parametrize("config", ["default", "production"])
def test_every_rule_is_described_and_only_80_443_face_the_internet(request, config, stack_name):
    configured = request.getfixturevalue(config)
    stack = configured[stack_name]
    for direction in ("ingress", "egress"):
        for body in stack.resources(f"aws_vpc_security_group_{direction}_rule").values():
            assert len(body.get("description", "")) >= 10, body
    for group, _, low, high, peer in rules(configured, stack_name, "ingress"):
        if peer in (WORLD, "::/0"):
            assert (low, high) in ((80, 80), (443, 443)), (group, low, high)
    for body in stack.resources("aws_security_group").values():
        assert "ingress" not in body and "egress" not in body, "rules are separate resources"
        assert body["description"]


@pytest.mark.parametrize("stack_name", ["homu-fargate", "homu-ec2"])
def test_database_and_cache_groups_have_no_egress_at_all(default, stack_name):
    egress_groups = {rule[0] for rule in rules(default, stack_name, "egress")}
    assert not egress_groups & {"homu-db-sg", "homu-redis-sg"}


def test_group_names_follow_settings(synth):
    configured = synth(
        app_name="shop-api", db_identifier="shop-db", redis_id="shop-cache", alb_name="shop-lb"
    )
    assert sorted(group_names(configured["homu-fargate"]).values()) == ["shop-api-sg", "shop-lb-sg"]
    assert sorted(group_names(configured["homu-ec2"]).values()) == ["shop-api-host-sg"]
    assert sorted(group_names(configured[DATA_STACK]).values()) == ["shop-cache-sg", "shop-db-sg"]
