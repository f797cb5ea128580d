"""GitHub Actions workflows: actionlint-clean, pinned, least privilege, no static keys, no pull-request
code where a credential is, and in step with the names the stacks create."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from modules.names import REMOTE_STATE_STACKS
from modules.settings import Settings
from tests.conftest import ROOT
from tests.workflow_trust import code_in, findings
from tools.ci import plan as ci_plan

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BEFORE = ROOT / "tests" / "fixtures" / "workflows"
STATIC_KEYS = ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN")  # fmt: skip
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


def test_the_five_workflows_exist():
    assert [p.name for p in WORKFLOWS] == [
        "backend-cd.yml",
        "drift.yml",
        "infra-plan.yml",
        "plan.yml",
        "policy-scan.yml",
    ]


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


def static_keys(text: str) -> list[str]:
    return [key for key in STATIC_KEYS if key in text]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_static_aws_keys(workflow):
    assert static_keys(workflow.read_text()) == []


def test_static_key_check_catches_the_guides_setup():
    """The guide's deploy (seed, "GitHub Secrets") with the keys its repository secrets hold."""
    guide = (
        "- uses: aws-actions/configure-aws-credentials@v1\n  with:\n"
        "    aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
        "    aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n"
    )
    assert static_keys(guide) == [
        "aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"
    ]  # fmt: skip


# --- no pull-request code where a credential is ------------------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_pull_request_code_runs_where_a_credential_is(workflow):
    assert findings(workflow) == []


def test_the_plan_workflow_before_the_split_is_caught():
    """Its plan job ran the pull request's make, terraform and summary with id-token: write."""
    assert findings(BEFORE / "infra-plan-before.yml") == [
        (
            "infra-plan-before.yml/plan/Synthesize: runs the pull request's code (`make synth`) where "
            "id-token: write, pull-requests: write is"
        ),
        (
            "infra-plan-before.yml/plan/Plan the data tier and each compute: runs the pull request's code "
            '(`terraform -chdir="$dir" init -input=false -no-color > "plans/$stack.txt" 2>&1`) where '
            "id-token: write, pull-requests: write, AWS credentials is"
        ),
        (
            "infra-plan-before.yml/plan/Write the comment: runs the pull request's code "
            "(`.venv/bin/python -m tools.cost --format markdown > cost.md`) where id-token: write, "
            "pull-requests: write, AWS credentials is"
        ),
    ]


def test_the_policy_scan_before_the_split_is_caught():
    found = findings(BEFORE / "policy-scan-before.yml")
    assert [line.split(": runs")[0] for line in found] == [
        "policy-scan-before.yml/scan/Synthesize",
        "policy-scan-before.yml/scan/Scan",
    ]
    assert all("security-events: write is" in line for line in found)


def write_workflow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.yml"
    path.write_text(text)
    return path


RUN_HEAD = """on:
  workflow_run:
    workflows: [infra-plan]
    types: [completed]
jobs:
  plan:
    runs-on: ubuntu-24.04
    permissions:
      id-token: write
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.workflow_run.head_sha }}
      - run: make synth
"""


def test_a_privileged_workflow_run_job_that_checks_out_the_head_is_caught(tmp_path):
    assert findings(write_workflow(tmp_path, RUN_HEAD)) == [
        "w.yml/plan/step 2: runs the pull request's code (`make synth`) where id-token: write is"
    ]
    base = RUN_HEAD.replace("        with:\n          ref: ${{ github.event.workflow_run.head_sha }}\n", "")
    assert findings(write_workflow(tmp_path, base)) == []


def test_terraform_on_downloaded_json_before_the_allowlist_is_caught(tmp_path):
    text = RUN_HEAD.replace(
        "        with:\n          ref: ${{ github.event.workflow_run.head_sha }}\n      - run: make synth\n",
        "      - uses: actions/download-artifact@v4\n      - run: terraform -chdir=synthesized plan\n",
    )
    assert findings(write_workflow(tmp_path, text)) == [
        "w.yml/plan/step 3: runs terraform on downloaded JSON before `python -m tools.ci prepare`"
    ]
    allowlisted = text.replace(
        "      - run: terraform", "      - run: python -m tools.ci prepare\n      - run: terraform"
    )
    assert findings(write_workflow(tmp_path, allowlisted)) == []


@pytest.mark.parametrize(
    ("run", "code"),
    [
        ("make synth", "make synth"),
        ('HOMU_SETTINGS_FILE="$f" make synth', 'HOMU_SETTINGS_FILE="$f" make synth'),
        (".venv/bin/python -m tools.cost > c.md", ".venv/bin/python -m tools.cost > c.md"),
        ("echo x && npm ci", "npm ci"),
        ("bash .ci/run", "bash .ci/run"),
        ("./scripts/deploy.sh", "./scripts/deploy.sh"),
        ('docker build --tag "$image" backend', 'docker build --tag "$image" backend'),
        ('echo "matrix=$(python -m tools.ci environments)"', 'python -m tools.ci environments)"'),
        ('echo "image=$image" >> "$GITHUB_OUTPUT"', None),
        ("docker push x", None),
        ("aws ecs describe-task-definition --task-definition x", None),
        ('bash -c "echo hi"', None),
    ],
)
def test_what_counts_as_running_repository_code(run, code):
    assert code_in({"run": run}) == code


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
    # Every container of the task takes the new image: the init container's render feeds the app's.
    renders = [
        s for s in steps if s.get("uses", "").startswith("aws-actions/amazon-ecs-render-task-definition")
    ]
    assert [r["with"]["container-name"] for r in renders] == [
        "${{ env.INIT_CONTAINER_NAME }}",
        "${{ env.CONTAINER_NAME }}",
    ]
    assert renders[0]["with"]["task-definition"] == "task-definition.json"
    assert renders[1]["with"]["task-definition"] == "${{ steps.render-init.outputs.task-definition }}"
    assert all(r["with"]["image"] == "${{ steps.build.outputs.image }}" for r in renders)
    deploy = next(
        s for s in steps if s.get("uses", "").startswith("aws-actions/amazon-ecs-deploy-task-definition")
    )
    assert deploy["with"]["task-definition"] == "${{ steps.render.outputs.task-definition }}"
    assert deploy["with"]["wait-for-service-stability"] is True
    build = next(s for s in steps if s.get("id") == "build")
    assert "$ECR_REPOSITORY:$GITHUB_SHA" in build["run"] and "docker push" in build["run"]
    credentials = next(s for s in steps if "configure-aws-credentials" in s.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"


def test_deploys_run_in_the_production_environment_after_checking_that_main_alone_may():
    """The deploy roles trust the environment, not a branch: the environment's branch policy is what
    keeps a dispatch from another branch out, so the job checks it before it takes the role."""
    job = load("backend-cd.yml")["jobs"]["deploy"]
    production = Settings(environment="prod")
    assert job["environment"] == production.github_deploy_environment == "production"
    runs = [s.get("run", "") for s in job["steps"]]
    gate = next(i for i, run in enumerate(runs) if "tools.ci gate" in run)
    credentials = next(
        i for i, s in enumerate(job["steps"]) if "configure-aws-credentials" in s.get("uses", "")
    )
    assert gate < credentials
    assert runs[gate] == (
        "python3 -m tools.ci gate --environment production --purpose deploy "
        f"--deploy-branch {production.github_deploy_branch}"
    )
    assert job["permissions"] == {"contents": "read", "actions": "read", "id-token": "write"}


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
    containers = json.loads(
        default["homu-fargate"].resource("aws_ecs_task_definition")["container_definitions"]
    )
    assert [c["name"] for c in containers] == [env["INIT_CONTAINER_NAME"], env["CONTAINER_NAME"]]
    parameter = default["homu-fargate"].resource("aws_ssm_parameter")["name"]
    assert env["IMAGE_TAG_PARAMETER"] == parameter


def test_pull_requests_test_and_synthesize_without_any_permission_beyond_reading():
    config = load("infra-plan.yml")
    assert config[True] == {"pull_request": None}
    jobs = config["jobs"]
    assert set(jobs) == {"test", "synth", "review"}
    assert all(
        "permissions" not in job and "environment" not in job and "if" not in job for job in jobs.values()
    )
    assert jobs["test"]["container"] == "python:3.11-bookworm"
    assert any(s.get("run") == "bash .ci/run" for s in jobs["test"]["steps"])
    upload = next(s for s in jobs["synth"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "synthesized"
    assert upload["with"]["path"] == "synthesized/*/stacks/*/cdk.tf.json"
    synthesize = next(s for s in jobs["synth"]["steps"] if s.get("name") == "Synthesize every environment")
    assert "for file in environments/*.json; do" in synthesize["run"]


def test_every_pull_request_is_reviewed_against_its_base_into_the_summary_and_an_artifact():
    review = load("infra-plan.yml")["jobs"]["review"]
    checkout = review["steps"][0]
    assert checkout["with"] == {"persist-credentials": False, "fetch-depth": 0}
    (step,) = [s for s in review["steps"] if "tools.review" in s.get("run", "")]
    assert step["env"] == {"NUMBER": "${{ github.event.pull_request.number }}"}
    assert ".venv/bin/python -m tools.review HEAD^1 --output review/review.md" in step["run"]
    assert 'cat review/review.md >> "$GITHUB_STEP_SUMMARY"' in step["run"]
    assert 'echo "$NUMBER" > review/pull-request' in step["run"]
    (upload,) = [s for s in review["steps"] if "upload-artifact" in s.get("uses", "")]
    assert (upload["with"]["name"], upload["with"]["path"]) == ("review", "review/")


def test_plans_run_from_the_base_branch_after_the_pull_requests_run_passed():
    config = load("plan.yml")
    assert config[True] == {"workflow_run": {"workflows": ["infra-plan"], "types": ["completed"]}}
    condition = config["jobs"]["environments"]["if"]
    for clause in (
        "github.event.workflow_run.event == 'pull_request'",
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
    ):
        assert clause in condition
    for job in config["jobs"].values():
        for step in job["steps"]:
            if "actions/checkout" in step.get("uses", ""):
                assert set(step.get("with", {})) == {"persist-credentials"}, "the base branch, never the head"


def test_each_environment_plans_in_its_own_github_environment_gated_allowlisted_then_credentialed():
    plan = load("plan.yml")["jobs"]["plan"]
    assert plan["environment"] == "${{ matrix.environment.github_environment }}"
    assert plan["strategy"]["matrix"]["environment"] == "${{ fromJSON(needs.environments.outputs.matrix) }}"
    assert plan["permissions"] == {"contents": "read", "actions": "read", "id-token": "write"}
    steps = plan["steps"]

    def index(predicate) -> int:
        (found,) = [i for i, s in enumerate(steps) if predicate(s)]
        return found

    gate = index(lambda s: "tools.ci gate" in s.get("run", ""))
    download = index(lambda s: "download-artifact" in s.get("uses", ""))
    prepare = index(lambda s: "tools.ci prepare" in s.get("run", ""))
    credentials = index(lambda s: "configure-aws-credentials" in s.get("uses", ""))
    planned = index(lambda s: "tools.ci plan " in s.get("run", ""))
    assert gate < download < prepare < credentials < planned
    assert (
        steps[gate]["run"]
        == 'python -m tools.ci gate --environment "$GITHUB_ENVIRONMENT_NAME" --purpose plan'
    )
    assert steps[download]["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert steps[credentials]["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"


def test_the_comment_job_holds_the_only_write_and_runs_the_base_branchs_summary():
    jobs = load("plan.yml")["jobs"]
    comment = jobs["comment"]
    assert comment["permissions"] == {"contents": "read", "actions": "read", "pull-requests": "write"}
    runs = [s["run"] for s in comment["steps"] if "run" in s]
    assert runs == [
        'python3 -m tools.plan_summary plans --review review/review.md > "$RUNNER_TEMP/comment.md"'
    ]
    writers = {name for name, job in jobs.items() if "write" in job.get("permissions", {}).values()}
    assert writers == {"plan", "comment"}


def test_the_review_reaches_forks_pull_requests_from_the_base_branch_without_their_code():
    comment = load("plan.yml")["jobs"]["comment"]
    # Every pull request's run, forks included; not only the ones that were planned.
    assert comment["if"] == "always() && github.event.workflow_run.event == 'pull_request'"
    (checkout,) = [s for s in comment["steps"] if "actions/checkout" in s.get("uses", "")]
    assert checkout["with"] == {"persist-credentials": False}, "the base branch, never the head"
    review = next(s for s in comment["steps"] if s.get("with", {}).get("name") == "review")
    assert review["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert review["continue-on-error"] is True
    # The pull request number is the pull request's own data: only its tested head makes it true.
    script = next(s for s in comment["steps"] if "github-script" in s.get("uses", ""))["with"]["script"]
    assert "/^[1-9][0-9]{0,9}$/.test(written)" in script
    assert "if (pull.head.sha !== run.head_sha) {" in script
    assert 'c.user.login === "github-actions[bot]" && c.body && c.body.startsWith(marker)' in script
    assert findings(ROOT / ".github" / "workflows" / "plan.yml") == []


class FakeTerraform:
    """A ``terraform`` on PATH that records its arguments and answers plan with ``plan_exit``."""

    def __init__(self, directory: Path, plan_exit: int = 2) -> None:
        self.log = directory / "calls"
        script = directory / "terraform"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> "{self.log}"\n'
            f'case "$2" in plan) echo planned; exit {plan_exit};; show) echo "{{}}";; esac\n'
        )
        script.chmod(0o755)
        self.env = {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}"}

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()


def test_plans_never_take_the_lock_and_run_in_deploy_order(tmp_path, monkeypatch):
    work = tmp_path / "work"
    for stack in REMOTE_STATE_STACKS:
        (work / stack).mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    fake = FakeTerraform(tmp_path / "bin")
    monkeypatch.setenv("PATH", fake.env["PATH"])
    assert ci_plan.run(work, tmp_path / "plans") is True
    plugins = (work / ci_plan.PLUGINS).resolve()
    expected = []
    for stack in REMOTE_STATE_STACKS:
        directory = work / stack
        expected += [
            f"-chdir={directory} init -input=false -no-color -lockfile=readonly -plugin-dir={plugins}",
            f"-chdir={directory} plan -input=false -no-color -lock=false -detailed-exitcode -out=tfplan",
            f"-chdir={directory} show -json tfplan",
        ]
    assert fake.calls() == expected
    assert (tmp_path / "plans" / "homu-data.exit").read_text() == "2\n"


def test_a_failed_plan_fails_the_run_and_is_reported(tmp_path, monkeypatch):
    (tmp_path / "work" / "homu-data").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", FakeTerraform(tmp_path / "bin", plan_exit=1).env["PATH"])
    assert ci_plan.run(tmp_path / "work", tmp_path / "plans") is False
    assert (tmp_path / "plans" / "homu-data.exit").read_text() == "1\n"
    assert not (tmp_path / "plans" / "homu-data.json").exists()


def test_policy_scan_uploads_sarif_from_a_job_that_runs_no_repository_code():
    jobs = load("policy-scan.yml")["jobs"]
    scan, upload = jobs["scan"], jobs["upload"]
    assert "permissions" not in scan  # the workflow's contents: read
    assert scan["strategy"]["matrix"]["settings"] == ["default", "production"]
    step = next(s for s in scan["steps"] if s.get("name") == "Scan")
    assert step["run"].splitlines() == [
        "python3 -m tools.bootstrap dev",
        ".venv/bin/python -m tools.scan --sarif checkov.sarif --junit checkov.xml",
    ]
    kept = next(s for s in scan["steps"] if "upload-artifact" in s.get("uses", ""))
    assert kept["if"] == "always()" and "checkov.sarif" in kept["with"]["path"]
    assert upload["permissions"] == {"contents": "read", "security-events": "write"}
    assert upload["if"].startswith("always()")
    assert [s["uses"].split("@")[0] for s in upload["steps"]] == [
        "actions/download-artifact",
        "github/codeql-action/upload-sarif",
    ]
    assert upload["steps"][1]["with"]["sarif_file"] == "checkov.sarif"


def test_the_synth_jobs_layout_is_where_the_plan_job_looks(tmp_path):
    """infra-plan.yml's synth step (run with a stand-in make) lays out one directory per settings file,
    and each environment ``tools.ci environments`` lists finds its stacks at ``synthesized/<synthesis>``
    of the artifact (upload-artifact roots a wildcard path at its first wildcard's directory)."""
    from tools.ci.__main__ import environments

    (tmp_path / "environments").mkdir()
    for path in (ROOT / "environments").glob("*.json"):
        shutil.copy(path, tmp_path / "environments" / path.name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "make").write_text(
        "#!/bin/sh\nfor s in homu-data homu-fargate homu-ec2; do mkdir -p cdktf.out/stacks/$s; "
        'echo "${HOMU_SETTINGS_FILE:-default}" > cdktf.out/stacks/$s/cdk.tf.json; done\n'
    )
    (bin_dir / "make").chmod(0o755)
    step = next(
        s
        for s in load("infra-plan.yml")["jobs"]["synth"]["steps"]
        if s.get("name") == "Synthesize every environment"
    )
    subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        check=True,
    )
    upload = next(
        s for s in load("infra-plan.yml")["jobs"]["synth"]["steps"] if "upload-artifact" in s.get("uses", "")
    )
    root = upload["with"]["path"].split("*")[0]
    assert root == "synthesized/"
    for environment in environments():
        synthesis = tmp_path / root / environment["synthesis"]
        for stack in REMOTE_STATE_STACKS:
            written = (synthesis / "stacks" / stack / "cdk.tf.json").read_text().strip()
            assert written == (environment["settings_file"] or "default")


def test_drift_runs_daily_from_main_in_the_drift_environment_gated_then_with_the_plan_role():
    """A schedule and a dispatch run the default branch's workflow: main's code, never a pull
    request's. The job takes the read-only plan role only after the gate found that the drift
    environment admits the deploy branch alone."""
    config = load("drift.yml")
    assert set(config[True]) == {"schedule", "workflow_dispatch"}
    assert config["concurrency"] == {"group": "drift", "cancel-in-progress": False}
    drift = config["jobs"]["drift"]
    assert drift["environment"] == "${{ matrix.environment.drift_environment }}"
    assert drift["permissions"] == {"contents": "read", "actions": "read", "id-token": "write"}
    runs = [s.get("run", "") for s in drift["steps"]]
    gate = next(i for i, run in enumerate(runs) if "tools.ci gate" in run)
    credentials = next(
        i for i, s in enumerate(drift["steps"]) if "configure-aws-credentials" in s.get("uses", "")
    )
    checked = next(i for i, run in enumerate(runs) if "python -m tools.drift --report drift.json" in run)
    assert gate < credentials < checked
    assert runs[gate] == 'python3 -m tools.ci gate --environment "$DRIFT_ENVIRONMENT" --purpose deploy'
    assert drift["steps"][credentials]["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    # Drift (exit 2) is the finding, not a failure; an error (exit 1) fails the job.
    assert '[ "$status" -ne 1 ]' in runs[checked]


def test_drift_issues_are_written_by_a_job_without_aws_from_the_uploaded_report():
    jobs = load("drift.yml")["jobs"]
    issues = jobs["issues"]
    assert issues["permissions"] == {"contents": "read", "issues": "write"}
    assert issues["needs"] == ["environments", "drift"] and issues["if"].startswith("always()")
    # A dispatch on another branch would run that branch's code with issues: write.
    assert (
        "(github.event_name == 'schedule' || github.ref == format('refs/heads/{0}', "
        "github.event.repository.default_branch))"
    ) in issues["if"]
    assert not any("configure-aws-credentials" in s.get("uses", "") for s in issues["steps"])
    (run,) = [s["run"] for s in issues["steps"] if "run" in s]
    assert run == 'python3 -m tools.drift.github drift.json --environment "$ENVIRONMENT_NAME"'
    (upload,) = [s for s in jobs["drift"]["steps"] if "upload-artifact" in s.get("uses", "")]
    (download,) = [s for s in issues["steps"] if "download-artifact" in s.get("uses", "")]
    assert upload["with"]["name"] == download["with"]["name"] == "drift-${{ matrix.environment.name }}"
