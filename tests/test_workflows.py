"""GitHub Actions workflows: actionlint-clean, pinned, least privilege, no static keys, and in step
with the names the stacks create."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from modules.names import REMOTE_STATE_STACKS
from modules.settings import Settings
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def actionlint(*paths) -> subprocess.CompletedProcess:
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.fail("actionlint is not installed; `make test` installs it")
    return subprocess.run(
        [binary, "-no-color", *map(str, paths)], capture_output=True, text=True, check=False, timeout=120
    )


def test_the_three_workflows_exist():
    assert [p.name for p in WORKFLOWS] == ["backend-cd.yml", "infra-plan.yml", "policy-scan.yml"]


def test_every_workflow_passes_actionlint():
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt.name }}\n"
    )
    result = actionlint(broken)
    assert result.returncode != 0 and "evnt" in result.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_static_aws_keys(workflow):
    text = workflow.read_text()
    for forbidden in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        assert forbidden not in text, forbidden


def test_static_key_check_catches_the_guides_setup():
    guide = "- uses: aws-actions/configure-aws-credentials@v1\n  with:\n    aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
    assert "aws-access-key-id" in guide  # the guide's way, which test_no_static_aws_keys refuses


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits_and_permissions_are_least(workflow):
    config = yaml.safe_load(workflow.read_text())
    assert config["permissions"] == {"contents": "read"}, "read-only by default; jobs ask for more"
    for name, job in config["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                line = next(
                    text.strip() for text in workflow.read_text().splitlines() if step["uses"] in text
                )
                assert PINNED.match(line.removeprefix("- ").removeprefix("uses: ")), line
        granted = job.get("permissions", {})
        assert all(v in ("read", "write") for v in granted.values())
        if granted.get("id-token") == "write":
            assert any("configure-aws-credentials" in s.get("uses", "") for s in job["steps"]), name


def test_deploys_never_overlap_and_are_never_cancelled():
    concurrency = load("backend-cd.yml")["concurrency"]
    assert concurrency == {"group": "backend-deploy", "cancel-in-progress": False}


def test_backend_cd_builds_pushes_by_commit_deploys_and_waits(production):
    config = load("backend-cd.yml")
    on = config[True]  # YAML reads the key `on` as true
    assert on["push"]["branches"] == ["main"] and "backend/**" in on["push"]["paths"]
    steps = config["jobs"]["deploy"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses.index("aws-actions/amazon-ecs-render-task-definition") < uses.index(
        "aws-actions/amazon-ecs-deploy-task-definition"
    )
    deploy = next(
        s for s in steps if s.get("uses", "").startswith("aws-actions/amazon-ecs-deploy-task-definition")
    )
    assert deploy["with"]["wait-for-service-stability"] is True
    build = next(s for s in steps if s.get("id") == "build")
    assert "$ECR_REPOSITORY:$GITHUB_SHA" in build["run"] and "docker push" in build["run"]
    credentials = next(s for s in steps if "configure-aws-credentials" in s.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


def test_workflow_names_match_what_the_stacks_create(default):
    """The guide's names live in Settings; the deploy workflow must address the same resources."""
    env = load("backend-cd.yml")["env"]
    defaults = Settings()
    assert (env["ECR_REPOSITORY"], env["ECS_CLUSTER"], env["ECS_SERVICE"]) == (
        defaults.app_name,
        defaults.cluster_name,
        defaults.service_name,
    )
    assert (env["TASK_FAMILY"], env["CONTAINER_NAME"]) == (defaults.task_family, defaults.app_name)
    parameter = default["homu-fargate"].resource("aws_ssm_parameter")["name"]
    assert env["IMAGE_TAG_PARAMETER"] == parameter


def test_pull_requests_get_tests_then_a_plan_with_the_plan_role():
    config = load("infra-plan.yml")
    assert config[True] == {"pull_request": None}
    test = config["jobs"]["test"]
    assert test["container"] == "python:3.11-bookworm"
    assert any(s.get("run") == "bash .ci/run" for s in test["steps"])
    # Every pull request, forks included, is reviewed without any credential.
    assert "permissions" not in test and "environment" not in test and "if" not in test
    plan = config["jobs"]["plan"]
    assert plan["needs"] == "test" and plan["permissions"]["pull-requests"] == "write"
    # Credentials only in the reviewed environment the plan role trusts (and never for forks,
    # which GitHub gives no OIDC token).
    assert plan["environment"] == Settings().github_plan_environment
    assert plan["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert [job for job in config["jobs"].values() if "id-token" in job.get("permissions", {})] == [plan]
    credentials = next(s for s in plan["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    script = next(s for s in plan["steps"] if s.get("id") == "plan")["run"]
    assert "-detailed-exitcode" in script and "-lock-timeout" in script


def test_pull_requests_plan_every_stack_on_the_state_bucket_in_deploy_order():
    """homu-data first, then both computes: every stack whose state is in the bucket, none left out."""
    script = next(s for s in load("infra-plan.yml")["jobs"]["plan"]["steps"] if s.get("id") == "plan")["run"]
    loops = [line.strip() for line in script.splitlines() if line.strip().startswith("for stack in ")]
    assert loops == ["for stack in homu-data homu-fargate homu-ec2; do"]
    assert loops == [f"for stack in {' '.join(REMOTE_STATE_STACKS)}; do"]


def test_policy_scan_uploads_sarif_even_when_it_fails():
    job = load("policy-scan.yml")["jobs"]["scan"]
    assert job["permissions"]["security-events"] == "write"
    assert job["strategy"]["matrix"]["settings"] == ["default", "production"]
    scan = next(s for s in job["steps"] if s.get("name") == "Scan")
    assert scan["run"].splitlines() == [
        "python3 -m tools.bootstrap dev",
        ".venv/bin/python -m tools.scan --sarif checkov.sarif --junit checkov.xml",
    ]
    upload = next(s for s in job["steps"] if "upload-sarif" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == "checkov.sarif"


def plan_fixture(directory, stack, exit_code, actions):
    directory.mkdir(exist_ok=True)
    (directory / f"{stack}.exit").write_text(f"{exit_code}\n")
    (directory / f"{stack}.txt").write_text(f"Plan for {stack}\n")
    if exit_code != 1:
        changes = [{"address": f"r.{i}", "change": {"actions": a}} for i, a in enumerate(actions)]
        (directory / f"{stack}.json").write_text(json.dumps({"resource_changes": changes}))


def test_plan_comment_counts_adds_changes_destroys_per_stack(tmp_path):
    plans = tmp_path / "plans"
    plan_fixture(plans, "homu-data", 0, [["no-op"], ["no-op"]])
    plan_fixture(
        plans, "homu-fargate", 2, [["create"], ["create"], ["update"], ["delete", "create"], ["no-op"]]
    )
    plan_fixture(plans, "homu-ec2", 2, [["update"], ["delete"]])
    (tmp_path / "cost.md").write_text("| stack | monthly |\n|---|---|\n| homu-fargate | $156 |\n")
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan_summary", str(plans), "--cost", str(tmp_path / "cost.md")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    body = result.stdout
    assert body.startswith("<!-- homu-infra-plan -->\n")
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `homu-data` | no changes | 0 | 0 | 0 |",
        "| `homu-ec2` | changes | 0 | 1 | 1 |",
        "| `homu-fargate` | changes | 3 | 1 | 1 |",
    ]
    assert (
        "<details><summary><code>homu-fargate</code> plan</summary>" in body
        and "Plan for homu-fargate" in body
    )
    assert "### Monthly cost" in body and "$156" in body


def test_plan_comment_reports_a_failed_plan(tmp_path):
    plans = tmp_path / "plans"
    plan_fixture(plans, "homu-data", 0, [["no-op"]])
    plan_fixture(plans, "homu-fargate", 1, [])
    body = subprocess.run(
        [sys.executable, "-m", "tools.plan_summary", str(plans)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| `homu-fargate` | **plan failed** |" in body
    assert "| `homu-data` | no changes | 0 | 0 | 0 |" in body
