"""Deploy rehearsal (``python -m tools.rehearsal``): every stack applied, checked, re-planned clean and destroyed
on a local AWS emulator, for the default settings and for environments/prod.json, and a perpetual diff
that must fail it. The lanes run in the background from the end of collection (tests/rehearsals.py);
these tests wait for them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from modules.names import DATA_STACK, EC2_STACK
from tests.cli_lane import COMMANDS
from tests.conftest import PRODUCTION
from tests.rehearsals import CLI_LANE, CONFIG_LANES, NEGATIVE_LANE, stack_result, steps
from tools.rehearsal.__main__ import main
from tools.rehearsal.checks import Applied, check_security_groups
from tools.rehearsal.errors import CheckFailed
from tools.rehearsal.settings import REHEARSAL_SETTINGS
from tools.tfjson import Stack, ref

# The checks each stack gets after its apply (and the leftover check after its destroy).
CHECKS = {
    DATA_STACK: {
        "security groups",
        "network ACL",
        "database events",
        "database",
        "deletion protection",
        "app credentials",
        "state object",
        "no credential in state",
        "lock",
        "plan scan",
        "leftovers",
        "data after destroy",
    },
    "homu-fargate": {
        "security groups",
        "deletion protection",
        "state object",
        "no credential in state",
        "plan scan",
        "leftovers",
        "data tier kept",
    },
    "homu-ec2": {
        "security groups",
        "state object",
        "no credential in state",
        "plan scan",
        "leftovers",
        "data tier kept",
    },
}
# Production has a GitHub repository, so its CI roles are rehearsed with IAM enforced too.
CI_ROLE_CHECKS = {
    "homu-data": {"plan role reads no data", "plan role's actions"},
    "homu-fargate": {"deploy role"},
    "homu-ec2": {"deploy role"},
}


@pytest.mark.parametrize(
    "config", [pytest.param(lane, marks=pytest.mark.rehearsal(lane)) for lane in CONFIG_LANES]
)
def test_configuration_deploys_replans_clean_and_destroys(rehearsals, config):
    run = rehearsals.finished(config)
    assert run.returncode == 0 and run.report is not None and run.report["passed"], run.explain()
    production = config == "production"
    environment = "prod" if production else "dev"
    state = stack_result(run.report, "homu-state")
    assert state["created"] > 0 and state["clean"] is True and state["destroyed"] == state["created"], (
        run.explain()
    )
    assert steps(state)["destroy (protected)"] == "refused by prevent_destroy, as designed"
    for name, expected in CHECKS.items():
        stack = stack_result(run.report, name)
        done = steps(stack)
        assert stack["created"] > 10 and stack["clean"] is True, run.explain()
        assert stack["destroyed"] == stack["created"], run.explain()
        roles = CI_ROLE_CHECKS.get(name, set()) if production else set()
        assert set(stack["checks"]) == expected | roles, (name, run.explain())
        # Every credential the account holds was looked for in every state object version, in vain.
        assert done["check no credential in state"].startswith("none of "), done[
            "check no credential in state"
        ]
        assert "SECRET_KEY" in done["check no credential in state"]
        assert ("plan as plan role" in done) is production
        if production:
            assert done["plan as plan role"].startswith("No changes."), run.explain()
        assert done["re-plan"].startswith("No changes."), run.explain()
        assert done["check security groups"].endswith("rules exactly as designed")
        assert ", 0 failed, " in done["check plan scan"]
        assert f"encrypted with alias/homu-{environment}-state" in done["check state object"]
        # Production is torn down the operator's way: protection lifted in place first, then destroyed.
        assert ("unprotect" in done) is production
        if production:
            assert done["unprotect"].startswith("Apply complete! Resources: 0 added,") and done[
                "unprotect"
            ].endswith(" 0 destroyed.")
        if name != DATA_STACK:
            assert (
                "untouched (same ARN and creation time); its groups admit nothing"
                in done["check data tier kept"]
            )
    data = steps(stack_result(run.report, DATA_STACK))
    # Before any compute the data tier's groups admit nothing at all.
    assert data["check security groups"] == "2 groups, 0 rules exactly as designed"
    assert data["check network ACL"].startswith("default ACL: ")
    assert data["check database events"] == (
        "homu-db: 7 event categories; homu-db-pg15: 1 event category to the alert topic"
    )
    assert data["check database"].endswith(f"Multi-AZ {production}")
    if production:  # lifting deletion protection for the teardown kept the data
        assert re.fullmatch(
            r"final snapshot homu-db-final-[0-9a-f-]{36} \(its key PendingDeletion, deleted in 30 days\) and the "
            r"automated backups retained",
            data["check data after destroy"],
        ), data["check data after destroy"]
    else:
        assert data["check data after destroy"].startswith("no final snapshot and no automated backups")
    assert data["check deletion protection"].startswith("on" if production else "off")
    assert data["check app credentials"].startswith("Redis admits IAM user homu-redis-app only (default off)")
    if production:
        # Enforcement is on: the same plan is refused with one permission fewer, naming it.
        assert data["plan refused without reading the state"].startswith("refused: ")
        refused_rds = data["plan refused without rds:DescribeDBInstances"]
        assert refused_rds.startswith("refused: ") and "to perform: rds:DescribeDBInstances" in refused_rds
        # The plan role's grants are what the plans of all three stacks called, and no data is read.
        assert data["check plan role's actions"].endswith("; nothing refused")
        assert data["check plan role reads no data"] == (
            "refused: another environment's state (AccessDenied); writing a lock (AccessDenied); deleting a "
            "lock (AccessDenied); another parameter (AccessDeniedException); log events "
            "(AccessDeniedException); the database's secret (AccessDeniedException)"
        )
        for name in ("homu-fargate", "homu-ec2"):
            assert (
                "the other option's deploy refused (AccessDenied"
                in steps(stack_result(run.report, name))["check deploy role"]
            )


@pytest.mark.rehearsal(*CONFIG_LANES)
def test_production_rehearses_more_than_the_default(rehearsals):
    """The production fixture's extras (WAF, certificate, DNS, alert e-mail, a second NAT and Redis node)
    are in the rehearsal, not only in the synthesized JSON."""
    default, production = rehearsals.finished("default"), rehearsals.finished("production")
    assert default.report and production.report, default.explain() + production.explain()
    for name in (DATA_STACK, "homu-fargate"):
        assert (
            stack_result(production.report, name)["created"] > stack_result(default.report, name)["created"]
        )


def cli_steps(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["step"]: step for step in report["steps"]}


@pytest.mark.rehearsal(CLI_LANE)
def test_the_documented_cdktf_commands_deploy_switch_survive_ctrl_c_and_keep_the_data(
    rehearsals, capsys, default
):
    run = rehearsals.finished(CLI_LANE)
    assert run.report is not None, run.explain()
    report, observed = run.report, run.report["observed"]
    assert "error" not in observed, run.explain()
    done = cli_steps(report)
    assert list(done) == list(COMMANDS), run.explain()
    for name in (
        "state",
        "data and fargate",
        "ec2 beside it",
        "again, no changes",
        "outputs",
        "destroy ec2",
        "ec2, re-run",
        "destroy fargate",
        "production state",
        "production data plan",
        "dev data plan",
    ):
        assert done[name]["exit"] == 0, (name, done[name]["summary"], done[name]["tail"][-15:])
    # Both options serve at once, on the one database, each admitted by its own rule.
    assert len(observed["databases with both computes"]) == 1
    assert observed["load balancers"] == ["homu-alb"]
    assert observed["data tier admits with both computes"] == [
        "homu-db-sg <- homu-backend-host-sg",
        "homu-db-sg <- homu-backend-sg",
        "homu-redis-sg <- homu-backend-host-sg",
        "homu-redis-sg <- homu-backend-sg",
    ]
    # Adding the second compute planned nothing for the data tier it was deployed with.
    beside = done["ec2 beside it"]["summary"]
    assert beside.count("No changes. Your infrastructure matches the configuration.") == 1, beside
    # A second deploy of everything changes nothing.
    again = done["again, no changes"]["summary"]
    assert again.count("No changes. Your infrastructure matches the configuration.") == 3, again
    assert all(
        line.endswith(" 0 added, 0 changed, 0 destroyed.") for line in again if line.startswith("Apply")
    )
    assert observed["outputs"]["homu-fargate"]["url"].startswith("http://")
    # The terminal closes during a compute's apply (SIGHUP, and EIO on every write to it): the wrapper
    # drains the CLI's output, the apply finishes, all it created is in the state and the lock is
    # released; the re-run just continues (here: nothing left to do).
    hung_up = done["ec2, hung up"]
    assert hung_up["interrupted_at"] is not None and hung_up["exit"] == 129, hung_up["tail"]
    after = observed["ec2 state after the hang-up"]
    with capsys.disabled():  # the record a reviewer asks for: what the state holds after the hang-up
        print(f"\nhomu-ec2 state after a hang-up at {hung_up['interrupted_at']} s (exit {hung_up['exit']}):")
        print(f"  objects: {after['objects']}\n  " + "\n  ".join(after["addresses"]))
    assert after["objects"] == ["dev/homu-ec2/terraform.tfstate"], "the lock object was left behind"
    # Every resource the stack configures, as the re-run finds them.
    configured = sum(1 for block, *_ in default[EC2_STACK].blocks() if block == "resource")
    assert after["resources"] == configured == 22
    assert after["addresses"] == observed["ec2 state after the re-run"]["addresses"]
    assert "No changes. Your infrastructure matches the configuration." in done["ec2, re-run"]["summary"]
    # Ctrl-C while homu-data applies and homu-fargate waits for it: homu-data finishes and is recorded
    # whole (the re-run changes nothing there); homu-fargate's Terraform never runs: the wrapper's gate
    # refuses it (or the CLI is stopped first), so no Terraform had to be stopped, and it has no state.
    interrupted = done["data and fargate, interrupted"]
    summary = interrupted["summary"]
    assert interrupted["interrupted_at"] is not None and interrupted["exit"] == 130, summary
    assert any(line.startswith("interrupt: letting Terraform") for line in summary), summary
    assert not any(line.startswith("interrupt: asked Terraform") for line in summary), summary
    refused = re.compile(
        r"interrupt: not starting terraform \S+ in homu-fargate: the command was interrupted"
    )
    stopped_cli = "interrupt: no Terraform running (nothing to protect); stopping the cdktf CLI"
    assert any(refused.search(line) or line == stopped_cli for line in summary), summary
    data_after = observed["data state after the interruption"]
    assert data_after["objects"] == ["dev/homu-data/terraform.tfstate"], "the lock object was left behind"
    assert data_after["addresses"] == observed["data state after the re-run"]["addresses"]
    assert observed["fargate state after the interruption"]["objects"] == []
    rerun = done["data and fargate"]["summary"]
    assert rerun.count("No changes. Your infrastructure matches the configuration.") == 1, rerun
    # Destroying a compute leaves the database as it was and takes only that compute's rules.
    kept = observed["database before and after"]
    assert kept["before"] == kept["after"] and len(kept["after"]) == 1
    assert observed["data tier admits after destroying fargate"] == [
        "homu-db-sg <- homu-backend-host-sg",
        "homu-redis-sg <- homu-backend-host-sg",
    ]
    # The CLI refuses to destroy the data tier while a compute in the app depends on it.
    # homu-ec2 is still deployed: the wrapper reads its state and refuses, with the flag too.
    assert observed["databases after the refused destroy"] == kept["after"]
    for step in ("destroy data while used", "destroy data with the flag while used"):
        refused = done[step]
        assert refused["exit"] == 1, refused["tail"]
        assert any(
            line.startswith("error: homu-ec2 still holds ")
            and "destroy it first: python -m tools.cdktf destroy homu-ec2" in line
            for line in refused["tail"]
        ), refused["tail"]
    # Production in the same checkout: its own bucket and local state, dev's untouched, no migration.
    assert observed["dev local state unchanged"] is True and observed["production local state"] is True
    assert observed["state buckets"] == ["homu-prod-terraform-state", "homu-terraform-state"]
    production_plan = done["production data plan"]
    assert any(
        line.startswith("Plan: ") and "0 to change, 0 to destroy" in line
        for line in production_plan["summary"]
    )
    assert not [line for line in production_plan["tail"] if "migrate" in line.lower()]
    assert any(line.startswith("No changes.") for line in done["dev data plan"]["summary"])
    assert observed["emulator exit after Ctrl-C"] == 0


def test_the_cli_lane_types_what_deploying_documents():
    deploying = (Path(__file__).resolve().parent.parent / "docs" / "deploying.md").read_text()
    for typed in COMMANDS.values():
        assert typed in deploying, typed


@pytest.mark.rehearsal(NEGATIVE_LANE)
def test_a_perpetual_diff_fails_the_rehearsal_and_it_still_cleans_up(rehearsals):
    run = rehearsals.finished(NEGATIVE_LANE)
    assert run.report is not None, run.explain()
    outcome = run.report
    raised = outcome["error"]
    assert raised is not None, "a tag that changes on every plan must fail the rehearsal\n" + run.explain()
    assert (raised["stack"], raised["step"]) == ("homu-state", "re-plan"), raised
    assert "not empty" in raised["message"]
    # The changes are listed by resource and attribute, and the timestamp tag is the only one.
    changed = [line.strip() for line in raised["output"].splitlines() if line.startswith("  aws_")]
    assert changed, raised["output"]
    assert all(line.startswith("aws_s3_bucket.state_bucket_") for line in changed), raised["output"]
    assert all("tags" in line for line in changed), raised["output"]
    assert '"RehearsedAt"' in raised["output"]

    state = stack_result(outcome, "homu-state")
    assert outcome["passed"] is False and state["clean"] is False
    # The failed re-plan does not stop the teardown: the bucket was still destroyed, the emulator
    # stopped and the work directory removed.
    assert state["destroyed"] == state["created"] > 0
    assert outcome["server_stopped"] and outcome["workdir_removed"]


def _without_rehearsal_settings(data: dict[str, Any], wiring: set[str]) -> dict[str, Any]:
    """Data sources without the AMI owner and without the emulator wiring of a remote state's reader."""
    data = json.loads(json.dumps(data))
    for ami in data.get("aws_ami", {}).values():
        ami.pop("owners")
    for remote in data.get("terraform_remote_state", {}).values():
        remote["config"] = {k: v for k, v in remote["config"].items() if k not in wiring}
    return data


@pytest.mark.parametrize("raw", [{}, PRODUCTION], ids=["default", "production"])
def test_the_rehearsal_deploys_the_configuration_unchanged_but_for_its_own_settings(synth, raw):
    """What the rehearsal applies is the configuration's own synthesis: every resource, data source and
    output is identical; only the emulator wiring of the provider, the backend and the readers of another
    stack's state, and the AMI owner differ."""
    real = synth(**raw)
    rehearsed = synth(**{**raw, **REHEARSAL_SETTINGS, "endpoint_url": "http://127.0.0.1:5555"})
    wiring = {
        "endpoints",
        "use_path_style",
        "s3_use_path_style",
        "skip_credentials_validation",
        "skip_metadata_api_check",
    }
    for name, stack in real.stacks.items():
        config, other = stack.config, rehearsed[name].config
        for block in ("resource", "output", "ephemeral"):
            assert config.get(block) == other.get(block), f"{name}: {block}"
        assert _without_rehearsal_settings(config.get("data", {}), wiring) == _without_rehearsal_settings(
            other.get("data", {}), wiring
        ), name
        assert all(ami["owners"] == ["self"] for ami in other.get("data", {}).get("aws_ami", {}).values())
        (provider,), (emulated,) = config["provider"]["aws"], other["provider"]["aws"]
        assert {k: v for k, v in emulated.items() if k not in wiring} == provider, name
        assert {k: v for k, v in other["terraform"].items() if k != "backend"} == {
            k: v for k, v in config["terraform"].items() if k != "backend"
        }, name
        for kind, block in other["terraform"]["backend"].items():
            assert {k: v for k, v in block.items() if k not in wiring} == config["terraform"]["backend"][
                kind
            ], name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--stacks", "homu-ecs"],
            "--stacks: a comma-separated choice of homu-fargate, homu-ec2, got 'homu-ecs'",
        ),
        (
            ["--stacks", "homu-state"],
            "--stacks: a comma-separated choice of homu-fargate, homu-ec2, got 'homu-state'",
        ),
        (["--config", "staging"], "invalid choice: 'staging' (choose from 'default', 'production')"),
    ],
)
def test_rehearse_refuses_bad_arguments_in_one_line_naming_them(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def _rule_resource(group: str, port: int, **peer: str) -> dict[str, Any]:
    body = {"security_group_id": ref(f"aws_security_group.{group}"), "ip_protocol": "tcp"}
    return {**body, "from_port": port, "to_port": port, **peer}


# Two groups: web takes 443 from anywhere and talks to db on 5432; db has no egress at all.
CONFIGURED = Stack(
    "homu-test",
    Path("."),
    {
        "resource": {
            "aws_security_group": {"web": {"name": "web-sg"}, "db": {"name": "db-sg"}},
            "aws_vpc_security_group_ingress_rule": {
                "web-443": _rule_resource("web", 443, cidr_ipv4="0.0.0.0/0"),
                "db-from-web": _rule_resource(
                    "db", 5432, referenced_security_group_id=ref("aws_security_group.web")
                ),
            },
            "aws_vpc_security_group_egress_rule": {
                "web-to-db": _rule_resource(
                    "web", 5432, referenced_security_group_id=ref("aws_security_group.db")
                ),
            },
        }
    },
)


def _emulated(group_id: str, egress: bool, port: int, *, cidr: str = "", peer: str = "") -> dict[str, Any]:
    """One entry of DescribeSecurityGroupRules."""
    rule = {"GroupId": group_id, "IsEgress": egress, "IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    return {**rule, "ReferencedGroupInfo": {"GroupId": peer}} if peer else {**rule, "CidrIpv4": cidr}


EXACT = [
    _emulated("sg-web", False, 443, cidr="0.0.0.0/0"),
    _emulated("sg-db", False, 5432, peer="sg-web"),
    _emulated("sg-web", True, 5432, peer="sg-db"),
]


class _FakeEmulator:
    """What the security-group check asks of Terraform and the emulator, answered from fixed data."""

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.rules = rules

    def outputs(self) -> dict[str, Any]:
        return {"vpc_id": "vpc-test"}

    def client(self, service: str) -> _FakeEmulator:
        return self

    def describe_security_groups(self, Filters: list[dict[str, Any]]) -> dict[str, Any]:
        groups = [{"GroupName": "web-sg", "GroupId": "sg-web"}, {"GroupName": "db-sg", "GroupId": "sg-db"}]
        return {"SecurityGroups": groups}

    def describe_security_group_rules(self, Filters: list[dict[str, Any]]) -> dict[str, Any]:
        return {"SecurityGroupRules": self.rules}


def _check(rules: list[dict[str, Any]]) -> str:
    fake = _FakeEmulator(rules)
    return check_security_groups(Applied(fake, CONFIGURED, fake.client, created=3))  # type: ignore[arg-type]


def test_the_security_group_check_passes_on_exactly_the_configured_rules():
    assert _check(EXACT) == "2 groups, 3 rules exactly as designed"
    assert _check(list(reversed(EXACT))) == "2 groups, 3 rules exactly as designed"


@pytest.mark.parametrize(
    ("rules", "differs"),
    [
        pytest.param(
            EXACT + [_emulated("sg-db", False, 5432, cidr="0.0.0.0/0")], "db-sg ingress", id="extra-open-rule"
        ),
        pytest.param(
            EXACT + [_emulated("sg-db", True, 443, cidr="0.0.0.0/0")], "db-sg egress", id="egress-where-none"
        ),
        pytest.param(EXACT[1:], "web-sg ingress", id="missing-rule"),
        pytest.param(
            EXACT[:2] + [_emulated("sg-web", True, 5433, peer="sg-db")], "web-sg egress", id="other-port"
        ),
        pytest.param(
            EXACT[:2] + [_emulated("sg-web", True, 5432, peer="sg-other")], "web-sg egress", id="other-peer"
        ),
    ],
)
def test_the_security_group_check_fails_on_any_rule_the_configuration_does_not_have(rules, differs):
    with pytest.raises(CheckFailed) as failed:
        _check(rules)
    assert failed.value.message == "rules differ from the configuration"
    assert [line.split(":")[0] for line in failed.value.output.splitlines()] == [differs]
