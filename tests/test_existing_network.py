"""``existing_network``: the stacks in a VPC they do not own, the guide's default VPC first."""

from __future__ import annotations

import copy
import json

import pytest

from modules.app import warnings
from modules.names import DATA_STACK, EC2_STACK, FARGATE_STACK, STACKS
from modules.settings import SettingsError, validate
from tests.test_policies import scan
from tests.test_security_groups import rules
from tests.test_terraform_validate import diagnostics
from tests.test_terraform_validate import validate as terraform_validate

ZONES = ("ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c")
SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003")
# What `aws ec2 describe-vpcs --filters Name=isDefault,Values=true` and describe-subnets give for a
# region's default VPC: one default subnet per zone, all public.
DEFAULT_VPC = {
    "vpc_id": "vpc-0a1b2c3d4e5f60000",
    "vpc_cidr": "172.31.0.0/16",
    "subnets": [
        {"id": subnet, "availability_zone": zone, "public": True}
        for subnet, zone in zip(SUBNETS, ZONES, strict=True)
    ],
}
GUIDE = {"existing_network": DEFAULT_VPC, "nat_gateways": "none"}
NOT_OWNED = (
    "aws_vpc",
    "aws_subnet",
    "aws_route_table",
    "aws_route",
    "aws_route_table_association",
    "aws_internet_gateway",
    "aws_nat_gateway",
    "aws_default_network_acl",
    "aws_default_security_group",
)


@pytest.fixture(scope="module")
def guide(synth):
    return synth(**GUIDE)


@pytest.mark.parametrize("stack_name", STACKS)
def test_nothing_of_the_network_is_created_or_taken_over(guide, stack_name):
    stack = guide[stack_name]
    assert {kind: stack.resources(kind) for kind in NOT_OWNED} == {kind: {} for kind in NOT_OWNED}


def test_the_data_tier_sits_in_the_given_subnets_without_a_public_endpoint(guide):
    stack = guide[DATA_STACK]
    assert stack.resource("aws_db_subnet_group")["subnet_ids"] == list(SUBNETS)
    assert stack.resource("aws_elasticache_subnet_group")["subnet_ids"] == list(SUBNETS)
    # Described as what they are: the default VPC's subnets are all public.
    assert stack.resource("aws_db_subnet_group")["description"] == "Public subnets of homu-db"
    assert stack.resource("aws_elasticache_subnet_group")["description"] == "Public subnets of homu-redis"
    assert stack.resource("aws_db_instance")["publicly_accessible"] is False
    groups = stack.resources("aws_security_group").values()
    assert {g["vpc_id"] for g in groups} == {DEFAULT_VPC["vpc_id"]}
    # The flow log is added to the VPC: it changes no traffic.
    assert stack.resource("aws_flow_log")["vpc_id"] == DEFAULT_VPC["vpc_id"]


def test_outputs_come_from_the_settings(guide):
    outputs = guide[DATA_STACK].outputs
    assert outputs["vpc_id"]["value"] == DEFAULT_VPC["vpc_id"]
    assert outputs["public_subnet_ids"]["value"] == list(SUBNETS)
    assert outputs["private_subnet_ids"]["value"] == []
    assert outputs["private_route_table_ids"]["value"] == []


@pytest.mark.parametrize("stack_name", [FARGATE_STACK, EC2_STACK])
@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_the_security_group_graph_is_the_same_as_in_the_projects_vpc(default, guide, stack_name, direction):
    assert rules(guide, stack_name, direction) == rules(default, stack_name, direction)


def test_fargate_tasks_get_public_ips_in_the_public_subnets_and_no_nat(guide):
    stack = guide[FARGATE_STACK]
    network = stack.resource("aws_ecs_service")["network_configuration"]
    assert network["assign_public_ip"] is True
    assert network["subnets"] == "${data.terraform_remote_state.homu-data.outputs.public_subnet_ids}"
    assert stack.resources("aws_nat_gateway") == {}


def test_each_subnet_and_the_vpc_are_checked_at_plan_time(guide):
    subnets = sorted(guide[DATA_STACK].data("aws_subnet").values(), key=lambda s: s["id"])
    assert [s["id"] for s in subnets] == list(SUBNETS)
    for index, subnet in enumerate(subnets):
        vpc_check, zone_check = subnet["lifecycle"]["postcondition"]
        assert vpc_check["condition"] == f'${{self.vpc_id == "{DEFAULT_VPC["vpc_id"]}"}}'
        assert vpc_check["error_message"] == (
            f"existing_network.subnets[{index}] {SUBNETS[index]}: in ${{self.vpc_id}}, "
            f"not {DEFAULT_VPC['vpc_id']} (existing_network.vpc_id)"
        )
        assert zone_check["condition"] == f'${{self.availability_zone == "{ZONES[index]}"}}'
        assert zone_check["error_message"].startswith(f"existing_network.subnets[{index}] {SUBNETS[index]}: ")
    (vpc,) = guide[DATA_STACK].data("aws_vpc").values()
    (cidr_check,) = vpc["lifecycle"]["postcondition"]
    assert cidr_check["condition"] == '${self.cidr_block == "172.31.0.0/16"}'


def test_synthesis_says_what_protects_the_data_tier_without_private_subnets(guide, default):
    (warning,) = [w for w in warnings(guide.outdir) if "existing_network" in w]
    assert "publicly_accessible false" in warning and "admit only the app's group" in warning
    assert "public IPs to reach ECR" in warning
    assert not [w for w in warnings(default.outdir) if "existing_network" in w]


def test_private_subnets_take_the_data_tier(synth):
    network = copy.deepcopy(DEFAULT_VPC)
    network["subnets"] += [
        {"id": "subnet-0000000a", "availability_zone": "ap-northeast-2a", "public": False},
        {"id": "subnet-0000000b", "availability_zone": "ap-northeast-2b", "public": False},
    ]
    stack = synth(existing_network=network, nat_gateways="none")[DATA_STACK]
    assert stack.resource("aws_db_subnet_group")["subnet_ids"] == ["subnet-0000000a", "subnet-0000000b"]
    assert stack.outputs["public_subnet_ids"]["value"] == list(SUBNETS)


def subnet(index: int, **changes) -> dict:
    network = copy.deepcopy(DEFAULT_VPC)
    network["subnets"][index].update(changes)
    return network


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {
                "existing_network": {**DEFAULT_VPC, "subnets": DEFAULT_VPC["subnets"][:1]},
                "nat_gateways": "none",
            },
            (
                "setting existing_network.subnets (HOMU_EXISTING_NETWORK): got ['ap-northeast-2a']; allowed: "
                "public subnets in at least two availability zones (an ALB needs two)"
            ),
        ),
        (
            {"existing_network": subnet(1, id="subnet-12"), "nat_gateways": "none"},
            (
                "setting existing_network.subnets[1].id (HOMU_EXISTING_NETWORK): got 'subnet-12'; allowed: "
                "a subnet id, subnet- and 8 or 17 hex digits"
            ),
        ),
        (
            {"existing_network": {**DEFAULT_VPC, "vpc_id": "default"}, "nat_gateways": "none"},
            (
                "setting existing_network.vpc_id (HOMU_EXISTING_NETWORK): got 'default'; allowed: "
                "a VPC id, vpc- and 8 or 17 hex digits"
            ),
        ),
        (
            {
                "existing_network": {
                    **DEFAULT_VPC,
                    "subnets": [{**s, "public": False} for s in DEFAULT_VPC["subnets"]],
                },
                "nat_gateways": "none",
            },
            (
                f"setting existing_network.subnets (HOMU_EXISTING_NETWORK): got {list(SUBNETS)!r}; allowed: "
                "at least one subnet with public true, for the load balancer and the EC2 host"
            ),
        ),
        (
            {"existing_network": DEFAULT_VPC, "nat_gateways": "single"},
            (
                "setting nat_gateways (HOMU_NAT_GATEWAYS): got 'single'; allowed: none with existing_network: "
                "without private subnets the tasks run in public subnets with public IPs to reach ECR, "
                "Secrets Manager and CloudWatch Logs"
            ),
        ),
        (
            {"existing_network": subnet(2, id=SUBNETS[0]), "nat_gateways": "none"},
            (
                f"setting existing_network.subnets[2].id (HOMU_EXISTING_NETWORK): got {SUBNETS[0]!r}; "
                "allowed: each subnet once; this id is listed before"
            ),
        ),
        (
            {
                "existing_network": {
                    **DEFAULT_VPC,
                    "subnets": [
                        *DEFAULT_VPC["subnets"],
                        {"id": "subnet-0000000a", "availability_zone": "ap-northeast-2a", "public": False},
                    ],
                },
                "nat_gateways": "none",
            },
            (
                "setting existing_network.subnets (HOMU_EXISTING_NETWORK): got ['ap-northeast-2a']; allowed: "
                "private subnets in at least two availability zones (RDS and ElastiCache subnet groups need "
                "two), or none so the data tier uses the public ones"
            ),
        ),
    ],
    ids=[
        "one-zone",
        "malformed-subnet",
        "malformed-vpc",
        "no-public",
        "nat-single",
        "duplicate",
        "private-one-zone",
    ],
)
def test_bad_network_is_one_line_naming_the_key(settings, line):
    with pytest.raises(SettingsError) as raised:
        validate(settings)
    assert raised.value.lines == [line]


def test_the_setting_comes_from_the_environment_as_json():
    settings = validate({"existing_network": json.dumps(DEFAULT_VPC), "nat_gateways": "none"})
    assert settings.existing_network.vpc_id == DEFAULT_VPC["vpc_id"]
    assert validate({}).existing_network is None


def test_the_scan_passes_with_no_new_exception(guide, default):
    result = scan(*(guide[s].directory for s in STACKS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scan: 0 failed, 0 unparsable" in result.stdout

    def exceptions(synth) -> set[tuple[str, str]]:
        return {
            (check, reason)
            for s in STACKS
            for skips in synth[s].exceptions().values()
            for check, reason in skips.items()
        }

    # The one exception beyond the defaults' is the existing one for tasks on public IPs (nat "none").
    assert {check for check, _ in exceptions(guide) - exceptions(default)} <= {"CKV_AWS_333"}


@pytest.mark.terraform
def test_the_data_stack_is_valid_terraform(guide, tmp_path, terraform_env):
    report = terraform_validate(guide[DATA_STACK].directory, tmp_path / "data", terraform_env)
    assert report["valid"], diagnostics(report)
    assert report["warning_count"] == 0, diagnostics(report)
