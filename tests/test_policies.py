"""The policy gate: `python -m tools.scan` on the reference configurations, and proof that it goes red.

Scans run the real command (python -m tools.scan -> checkov 3.3 with policies/); fixtures are small
hand-written Terraform JSON files in tests/fixtures/policies, never mocks of checkov.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from modules.names import STACKS
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "policies"
PROJECT_POLICIES = [f"CKV_HOMU_{n}" for n in range(1, 12)]
# Built-in checks this project relies on for security groups.
BUILTIN_SG_CHECKS = ["CKV_AWS_23", "CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277"]


def scan(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.scan", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def failures(output: str) -> set[tuple[str, str]]:
    """(check id, resource) of every FAILED line the command printed."""
    return {
        (line.split()[1], line.split()[2]) for line in output.splitlines() if line.startswith("  FAILED ")
    }


@pytest.fixture(scope="module")
def reference_scans(default, production, tmp_path_factory):
    """Both reference configurations scanned once, with SARIF and JUnit output."""
    results = {}
    for name, synth in (("default", default), ("production", production)):
        out = tmp_path_factory.mktemp(f"scan-{name}")
        dirs = [synth[s].directory for s in STACKS]
        result = scan(
            *dirs,
            "--dockerfile",
            ROOT / "backend" / "Dockerfile",
            "--junit",
            out / "scan.xml",
            "--sarif",
            out / "scan.sarif",
        )
        results[name] = (result, ET.parse(out / "scan.xml"), json.loads((out / "scan.sarif").read_text()))
    return results


@pytest.mark.parametrize("config", ["default", "production"])
def test_reference_configuration_passes_with_every_exception_explained(reference_scans, config):
    result, junit, sarif = reference_scans[config]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scan: 0 failed, 0 unparsable" in result.stdout
    assert "note: exception" not in result.stdout, "every exception must match a failure it excuses"
    skipped = [line for line in result.stdout.splitlines() if line.startswith("  skipped ")]
    assert skipped and all(len(line.split(": ", 1)[1]) > 30 for line in skipped), (
        "each skip carries its reason"
    )
    suites = {s.get("name"): s for s in junit.getroot()}
    assert set(suites) == {*STACKS, "Dockerfile (backend)"}
    assert all(int(s.get("tests")) > 10 and s.get("failures") == "0" for s in suites.values())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []


@pytest.mark.parametrize("config", ["default", "production"])
def test_every_project_policy_ran_on_the_reference_stacks(reference_scans, config):
    _, junit, _ = reference_scans[config]
    ran = {case.get("name").split()[0] for case in junit.getroot().iter("testcase")}
    assert set(PROJECT_POLICIES) <= ran, set(PROJECT_POLICIES) - ran
    assert {"CKV_AWS_23", "CKV_AWS_24", "CKV_AWS_260"} <= ran


def test_production_has_fewer_exceptions_than_dev(reference_scans):
    """Dev's extra exceptions are exactly its documented trade-offs; production turns them on."""

    def exceptions(config):
        return {
            line.split()[1]
            for line in reference_scans[config][0].stdout.splitlines()
            if line.startswith("  skipped ")
        }

    dev_only = exceptions("default") - exceptions("production")
    assert dev_only == {
        "CKV_AWS_157",
        "CKV_AWS_293",
        "CKV2_AWS_50",
        "CKV_AWS_150",
        "CKV2_AWS_28",
        "CKV_AWS_2",
        "CKV_AWS_103",
        "CKV2_AWS_20",
        "CKV_AWS_378",
    }


BROKEN = {
    ("CKV_HOMU_1", "aws_security_group.postgres_inline_from_cidr_with_nulls"),
    ("CKV_HOMU_1", "aws_vpc_security_group_ingress_rule.all_traffic_from_internet"),
    ("CKV_HOMU_2", "aws_security_group_rule.redis_port_range_from_cidr"),
    ("CKV_HOMU_2", "aws_vpc_security_group_ingress_rule.all_traffic_from_internet"),
    ("CKV_HOMU_3", "aws_vpc_security_group_ingress_rule.app_port_from_ipv6_range"),
    ("CKV_HOMU_3", "aws_vpc_security_group_ingress_rule.all_traffic_from_internet"),
    ("CKV_HOMU_4", "aws_security_group.web_range_80_to_443_from_internet"),
    ("CKV_HOMU_4", "aws_security_group_rule.ssh_from_ipv6_internet"),
    ("CKV_HOMU_4", "aws_vpc_security_group_ingress_rule.all_traffic_from_internet"),
    ("CKV_HOMU_4", "aws_vpc_security_group_ingress_rule.udp_443_from_internet"),
    ("CKV_HOMU_5", "aws_security_group_rule.ssh_from_ipv6_internet"),
    ("CKV_HOMU_5", "aws_vpc_security_group_ingress_rule.all_traffic_from_internet"),
    ("CKV_HOMU_6", "aws_vpc_security_group_ingress_rule.undescribed_rule"),
    ("CKV_HOMU_7", "aws_ecs_task_definition.root_writable_with_secret_env"),
    ("CKV_HOMU_8", "aws_iam_role_policy.star_resource"),
    ("CKV_HOMU_9", "aws_ecs_task_definition.root_writable_with_secret_env"),
    ("CKV_HOMU_9", "aws_instance.secret_in_user_data"),
    ("CKV_HOMU_10", "aws_iam_role.flow_logs_for_any_account"),
    ("CKV_HOMU_10", "aws_iam_role.ec2_beside_an_unguarded_service"),
    ("CKV_HOMU_11", "aws_default_network_acl.ephemeral_range_spans_rdp"),
    ("CKV_HOMU_11", "aws_network_acl_rule.acl_ssh_from_ipv6_internet"),
    # Built-in security-group checks, on the forms they do read.
    ("CKV_AWS_24", "aws_security_group_rule.ssh_from_ipv6_internet"),
    ("CKV_AWS_23", "aws_vpc_security_group_ingress_rule.undescribed_rule"),
}


@pytest.fixture(scope="module")
def broken_scan():
    return scan(FIXTURES / "broken", "--check", ",".join(PROJECT_POLICIES + BUILTIN_SG_CHECKS))


def test_each_policy_goes_red_on_the_stack_that_breaks_it(broken_scan):
    assert broken_scan.returncode == 1
    assert failures(broken_scan.stdout) == BROKEN, broken_scan.stdout


def test_every_project_policy_is_proven_to_fail(broken_scan):
    assert {check for check, _ in failures(broken_scan.stdout)} >= set(PROJECT_POLICIES)


def test_the_fixed_twins_pass(broken_scan):
    result = scan(FIXTURES / "fixed", "--check", ",".join(PROJECT_POLICIES + BUILTIN_SG_CHECKS))
    assert result.returncode == 0, result.stdout
    assert failures(result.stdout) == set()


def test_machine_readable_output_lists_each_failure(tmp_path):
    result = scan(
        FIXTURES / "broken",
        "--check",
        "CKV_HOMU_5",
        "--sarif",
        tmp_path / "s.sarif",
        "--junit",
        tmp_path / "j.xml",
    )
    assert result.returncode == 1
    sarif = json.loads((tmp_path / "s.sarif").read_text())
    located = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in sarif["runs"][0]["results"]
    }
    assert located == {("CKV_HOMU_5", "tests/fixtures/policies/broken/main.tf.json")}
    assert len(sarif["runs"][0]["results"]) == 2
    (suite,) = ET.parse(tmp_path / "j.xml").getroot()
    assert suite.get("failures") == "2" and len(list(suite.iter("failure"))) == 2


def test_an_exception_next_to_the_resource_turns_a_failure_into_a_reasoned_skip(tmp_path):
    stack = tmp_path / "reviewed"
    stack.mkdir()
    config = json.loads((FIXTURES / "broken" / "main.tf.json").read_text())
    rule = config["resource"]["aws_security_group_rule"]["ssh_from_ipv6_internet"]
    rule["//"] = {"checkov_skip": {"CKV_HOMU_5": "bastion for an incident, removed on 2026-12-01"}}
    (stack / "cdk.tf.json").write_text(json.dumps(config))
    result = scan(stack, "--check", "CKV_HOMU_5")
    assert result.returncode == 1, "the other rule that opens 22 still fails"
    assert failures(result.stdout) == {
        ("CKV_HOMU_5", "aws_vpc_security_group_ingress_rule.all_traffic_from_internet")
    }
    assert (
        "skipped CKV_HOMU_5  aws_security_group_rule.ssh_from_ipv6_internet: bastion for an incident"
        in result.stdout
    )


def test_scans_a_directory_it_did_not_synthesize_and_fails_on_unparsable_input(tmp_path, default):
    foreign = tmp_path / "someone-elses-output" / "stack"
    shutil.copytree(default["homu-fargate"].directory, foreign)
    assert scan(foreign).returncode == 0
    (foreign / "cdk.tf.json").write_text('{"resource": {"aws_s3_bucket": ')
    result = scan(foreign)
    assert result.returncode == 1 and "PARSE ERROR" in result.stdout


def test_checkov_alone_cannot_parse_the_synthesized_json_which_is_why_scan_stages_a_copy(default):
    """checkov 3.3's terraform_json parser rejects the string terraform.required_version; unscanned
    files then count as 'parsing errors' beside 0 failures, which a CI can mistake for green."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "checkov.main",
            "--quiet",
            "-o",
            "json",
            "--skip-download",
            "--framework",
            "terraform_json",
            "--directory",
            str(default["homu-fargate"].directory),
        ],
        capture_output=True,
        text=True,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin"},
        timeout=600,
        check=False,
    )
    summary = json.loads(result.stdout)["summary"]
    assert (summary["parsing_errors"], summary["passed"], summary["failed"]) == (1, 0, 0)


def matrix_fixture(directory: Path) -> None:
    """One SSH rule from the internet in every form, as cdktf or a hand writer would emit it."""
    nulls = {
        "cidr_blocks": None,
        "ipv6_cidr_blocks": None,
        "prefix_list_ids": None,
        "security_groups": None,
        "self": None,
    }
    ssh = {"from_port": 22, "to_port": 22, "description": "ssh"}
    resources = {
        "aws_security_group": {
            "inline": {
                "name": "a",
                "vpc_id": "v",
                "description": "d",
                "ingress": [{**ssh, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}],
            },
            "inline_cdktf_nulls": {
                "name": "b",
                "vpc_id": "v",
                "description": "d",
                "ingress": [{**nulls, **ssh, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}],
            },
        },
        "aws_security_group_rule": {
            "legacy_v6": {
                "type": "ingress",
                "security_group_id": "sg",
                **ssh,
                "protocol": "tcp",
                "ipv6_cidr_blocks": ["::/0"],
            },
        },
        "aws_vpc_security_group_ingress_rule": {
            "modern_v4": {"security_group_id": "sg", **ssh, "ip_protocol": "tcp", "cidr_ipv4": "0.0.0.0/0"},
            "modern_v6": {"security_group_id": "sg", **ssh, "ip_protocol": "tcp", "cidr_ipv6": "::/0"},
            "modern_all_protocols": {
                "security_group_id": "sg",
                "description": "all",
                "ip_protocol": "-1",
                "cidr_ipv4": "0.0.0.0/0",
            },
        },
    }
    directory.mkdir()
    (directory / "main.tf.json").write_text(json.dumps({"resource": resources}))


def test_where_checkovs_own_ssh_check_is_blind_and_the_project_policy_is_not(tmp_path):
    """Verified, not assumed: CKV_AWS_24 misses the inline rule with cdktf's null fields, IPv6 in the
    newer rule resource, and all-protocol rules; CKV_HOMU_5 catches every form."""
    matrix_fixture(tmp_path / "matrix")
    result = scan(tmp_path / "matrix", "--check", "CKV_AWS_24,CKV_HOMU_5")
    found = failures(result.stdout)
    builtin = {resource.split(".")[1] for check, resource in found if check == "CKV_AWS_24"}
    ours = {resource.split(".")[1] for check, resource in found if check == "CKV_HOMU_5"}
    assert builtin == {"inline", "legacy_v6", "modern_v4"}
    assert ours == {
        "inline",
        "inline_cdktf_nulls",
        "legacy_v6",
        "modern_v4",
        "modern_v6",
        "modern_all_protocols",
    }


PLAN_FIXTURE = FIXTURES.parent / "plan"


def test_a_plan_scan_applies_the_stacks_exceptions_also_to_a_groups_computed_rules():
    """A plan shows the port-80 rule twice: on its rule resource and in the group's computed ingress.
    The rule's exception holds for both, and a project policy still fails on the plan's IAM role
    (whose policy a plan hands to checks already parsed)."""
    result = scan(
        "--plan", PLAN_FIXTURE / "plan.json", PLAN_FIXTURE / "stack", "--check", "CKV_AWS_260,CKV_HOMU_10"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert failures(result.stdout) == {("CKV_HOMU_10", "aws_iam_role.unguarded")}
    skipped = {
        line.split()[2].rstrip(":") for line in result.stdout.splitlines() if line.startswith("  skipped ")
    }
    assert skipped == {"aws_security_group.entry", "aws_vpc_security_group_ingress_rule.entry-80"}


def test_a_plan_scan_takes_one_stack_directory_and_no_dockerfile():
    result = scan(
        "--plan",
        PLAN_FIXTURE / "plan.json",
        PLAN_FIXTURE / "stack",
        "--dockerfile",
        ROOT / "backend" / "Dockerfile",
    )
    assert result.returncode == 2 and "--plan takes exactly one stack directory" in result.stderr
