"""VPC, subnets, routing and NAT: data tiers private, NAT only where compute needs it."""

from __future__ import annotations

import json

import pytest

from modules.names import DATA_STACK
from tools.tfjson import Stack


def subnets(stack: Stack, tier: str) -> list[dict]:
    found = [s for s in stack.resources("aws_subnet").values() if s["tags"]["Tier"] == tier]
    return sorted(found, key=lambda s: s["cidr_block"])


def test_vpc_spans_two_zones_with_public_and_private_subnets(default):
    stack = default[DATA_STACK]
    vpc = stack.resource("aws_vpc")
    assert vpc["cidr_block"] == "10.0.0.0/16"
    assert vpc["enable_dns_hostnames"] is True and vpc["enable_dns_support"] is True
    public, private = subnets(stack, "public"), subnets(stack, "private")
    assert [s["cidr_block"] for s in public] == ["10.0.0.0/24", "10.0.1.0/24"]
    assert [s["cidr_block"] for s in private] == ["10.0.10.0/24", "10.0.11.0/24"]
    zones = [s["availability_zone"] for s in public]
    assert zones[0] != zones[1] and all("aws_availability_zones" in zone for zone in zones)
    assert all(s.get("map_public_ip_on_launch", False) is False for s in public + private)


def test_three_zones_when_asked(synth):
    stack = synth(availability_zones=3)[DATA_STACK]
    assert len(subnets(stack, "public")) == 3 and len(subnets(stack, "private")) == 3
    assert len(stack.resources("aws_route_table")) == 4  # one public, one per private subnet


def private_default_routes(stack: Stack) -> list[dict]:
    return [r for r in stack.resources("aws_route").values() if "nat_gateway_id" in r]


@pytest.mark.parametrize(
    ("config", "stack_name", "nat_count"),
    [
        ("default", "homu-fargate", 1),
        ("production", "homu-fargate", 2),
        ("default", "homu-ec2", 0),
        ("production", "homu-ec2", 0),
        ("default", DATA_STACK, 0),
        ("production", DATA_STACK, 0),
    ],
)
def test_nat_gateways_only_where_private_compute_needs_them(request, config, stack_name, nat_count):
    stack = request.getfixturevalue(config)[stack_name]
    assert len(stack.resources("aws_nat_gateway")) == nat_count
    assert len([e for e in stack.resources("aws_eip").values() if "instance" not in e]) == nat_count
    routes = private_default_routes(stack)
    assert len(routes) == (2 if nat_count else 0)
    assert {r["nat_gateway_id"] for r in routes} == {
        f"${{aws_nat_gateway.{name}.id}}" for name in stack.resources("aws_nat_gateway")
    }
    # The routes go into the data tier's private route tables, one per zone, read from its state.
    assert sorted(r["route_table_id"] for r in routes) == [
        f"${{element(data.terraform_remote_state.homu-data.outputs.private_route_table_ids, {i})}}"
        for i in range(len(routes))
    ]


def test_no_nat_layout_is_a_setting(synth):
    stack = synth(nat_gateways="none")["homu-fargate"]
    assert stack.resources("aws_nat_gateway") == {} and private_default_routes(stack) == []


def test_public_subnets_route_to_the_internet_gateway(default):
    stack = default[DATA_STACK]
    (igw,) = stack.resources("aws_internet_gateway")
    internet = [r for r in stack.resources("aws_route").values() if "gateway_id" in r]
    assert internet == [next(r for r in internet)]
    assert internet[0]["destination_cidr_block"] == "0.0.0.0/0"
    assert internet[0]["gateway_id"] == f"${{aws_internet_gateway.{igw}.id}}"


def test_default_security_group_allows_nothing(default):
    group = default[DATA_STACK].resource("aws_default_security_group")
    assert "ingress" not in group and "egress" not in group


def test_flow_logs_go_to_a_retained_log_group_through_a_narrow_role(default):
    stack = default[DATA_STACK]
    flow = stack.resource("aws_flow_log")
    assert flow["traffic_type"] == "ALL" and flow["log_destination_type"] == "cloud-watch-logs"
    group = stack.named("aws_cloudwatch_log_group", "network/flow-logs")
    assert group["name"] == "/vpc/homu-dev/flow-logs" and group["retention_in_days"] == 30
    (statement,) = json.loads(stack.named("aws_iam_role_policy", "network/flow-logs-write")["policy"])[
        "Statement"
    ]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    assert statement["Resource"] == [f"${{{stack.address('aws_cloudwatch_log_group', group)}.arn}}:*"]
    trust = json.loads(stack.named("aws_iam_role", "network/flow-logs-role")["assume_role_policy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    condition = trust["Statement"][0]["Condition"]
    assert set(condition["StringEquals"]) == {"aws:SourceAccount"}
    assert condition["ArnLike"]["aws:SourceArn"].endswith(":vpc-flow-log/*")


def acl_rules(stack: Stack, direction: str) -> set[tuple]:
    acl = stack.resource("aws_default_network_acl")
    return {
        (rule["rule_no"], rule["protocol"], rule["cidr_block"], rule["from_port"], rule["to_port"])
        for rule in acl[direction]
    }


@pytest.mark.parametrize("config", ["default", "production"])
def test_default_network_acl_allows_only_what_the_stacks_need_both_ways(request, config):
    stack = request.getfixturevalue(config)[DATA_STACK]
    acl = stack.resource("aws_default_network_acl")
    assert (
        acl["default_network_acl_id"]
        == f"${{{stack.address('aws_vpc', stack.resource('aws_vpc'))}.default_network_acl_id}}"
    )
    every_subnet = {
        f"${{{stack.address('aws_subnet', body)}.id}}" for body in stack.resources("aws_subnet").values()
    }
    assert set(acl["subnet_ids"]) == every_subnet
    assert acl_rules(stack, "ingress") == {
        (100, "-1", "10.0.0.0/16", 0, 0),
        (110, "tcp", "0.0.0.0/0", 80, 80),
        (120, "tcp", "0.0.0.0/0", 443, 443),
        (130, "tcp", "0.0.0.0/0", 1024, 3388),
        (140, "tcp", "0.0.0.0/0", 3390, 65535),
        (150, "icmp", "0.0.0.0/0", 0, 0),
    }
    assert acl_rules(stack, "egress") == {
        (100, "-1", "10.0.0.0/16", 0, 0),
        (110, "tcp", "0.0.0.0/0", 443, 443),
        (120, "tcp", "0.0.0.0/0", 80, 80),
        (130, "tcp", "0.0.0.0/0", 1024, 65535),
    }
    icmp = next(rule for rule in acl["ingress"] if rule["protocol"] == "icmp")
    assert (icmp["icmp_type"], icmp["icmp_code"]) == (3, 4)  # path-MTU discovery only


@pytest.mark.parametrize("config", ["default", "production"])
def test_default_network_acl_never_admits_ssh_or_rdp_from_the_internet(request, config):
    for rule in request.getfixturevalue(config)[DATA_STACK].resource("aws_default_network_acl")["ingress"]:
        if rule["cidr_block"] == "0.0.0.0/0" and rule["protocol"] in ("tcp", "-1"):
            assert not rule["from_port"] <= 22 <= rule["to_port"], rule
            assert not rule["from_port"] <= 3389 <= rule["to_port"], rule


def test_admin_cidr_opens_ssh_in_the_acl_for_that_network_only(synth):
    stack = synth(admin_cidr="203.0.113.7/32")[DATA_STACK]
    assert (160, "tcp", "203.0.113.7/32", 22, 22) in acl_rules(stack, "ingress")


@pytest.mark.parametrize("config", ["default", "production"])
def test_the_data_tier_never_claims_what_the_computes_add_to_it(request, config):
    """An inline ``route`` on a route table or ``ingress``/``egress`` on a group would make every apply
    of homu-data remove the NAT routes and the rules the computes add to them."""
    data = request.getfixturevalue(config)[DATA_STACK]
    for body in data.resources("aws_route_table").values():
        assert "route" not in body, body["tags"]
    for body in data.resources("aws_security_group").values():
        assert "ingress" not in body and "egress" not in body, body["name"]
