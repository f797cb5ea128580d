"""``python -m tools.ci``: what the privileged plan job runs from the base branch, and the comment it
leaves (``tools/plan_summary.py``)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modules.names import REMOTE_STATE_STACKS
from tests.conftest import ROOT
from tools import plan_summary
from tools.ci import __main__ as ci
from tools.ci.plan import CONFIG_FILE, PLUGINS


def run_ci(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.ci", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_requirements_pin_every_package_the_settings_import_with_the_locks_hashes():
    """The privileged jobs install these alone (pip --require-hashes --no-deps) to read settings."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; b = set(sys.modules); import modules.settings; print(*set(sys.modules) - b)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    distributions = importlib.metadata.packages_distributions()
    needed = {
        dist.lower().replace("_", "-")
        for module in loaded
        for dist in distributions.get(module.split(".")[0], [])
        if module.split(".")[0] not in sys.stdlib_module_names
    }
    assert needed == set(ci.SETTINGS_PACKAGES)
    lock = json.loads((ROOT / "Pipfile.lock").read_text())["default"]
    for line in ci.requirements().splitlines():
        name, _, hashes = line.partition(" ")
        package, _, version = name.partition("==")
        assert version == lock[package]["version"].removeprefix("==")
        assert hashes.split() == [f"--hash={h}" for h in lock[package]["hashes"]]


def write_environment(root: Path, name: str, settings: dict) -> None:
    (root / "environments").mkdir(exist_ok=True)
    (root / "environments" / f"{name}.json").write_text(json.dumps(settings))


def test_environments_are_those_with_a_repository_each_in_its_own_github_environment(tmp_path):
    (tmp_path / "cdktf.json").write_text(json.dumps({"context": {"github_repository": "octo/homu"}}))
    write_environment(tmp_path, "prod", {"environment": "prod", "github_repository": "octo/homu"})
    # cdktf.json names the repository for every environment; this one opts out, so has no plan role.
    write_environment(tmp_path, "staging", {"environment": "staging", "github_repository": None})
    write_environment(tmp_path, "qa", {"environment": "qa", "github_plan_environment": "plan-qa"})
    assert ci.environments(tmp_path) == [
        {
            "name": "dev",
            "settings_file": "",
            "synthesis": "default",
            "github_environment": "infra-plan-dev",
            "drift_environment": "infra-drift-dev",
        },
        {
            "name": "prod",
            "settings_file": "environments/prod.json",
            "synthesis": "prod",
            "github_environment": "infra-plan-prod",
            "drift_environment": "infra-drift-prod",
        },
        {
            "name": "qa",
            "settings_file": "environments/qa.json",
            "synthesis": "qa",
            "github_environment": "plan-qa",
            "drift_environment": "infra-drift-qa",
        },
    ]


def test_the_committed_environments_plan_prod_alone():
    assert [e["name"] for e in ci.environments()] == ["prod"]


def test_two_files_for_one_environment_are_refused(tmp_path):
    (tmp_path / "cdktf.json").write_text("{}")
    write_environment(tmp_path, "a", {"environment": "prod", "github_repository": "octo/homu"})
    write_environment(tmp_path, "b", {"environment": "prod", "github_repository": "octo/homu"})
    with pytest.raises(SystemExit, match="two settings files configure the same environment: prod, prod"):
        ci.environments(tmp_path)


@pytest.fixture
def prod_env(terraform_env) -> dict[str, str]:
    clean = {k: v for k, v in terraform_env.items() if not k.startswith("HOMU_")}
    return {**clean, "HOMU_SETTINGS_FILE": "environments/prod.json"}


@pytest.mark.terraform
def test_prepare_lays_out_each_stack_alone_with_the_bases_lock_and_the_locked_provider(
    production, prod_env, tmp_path
):
    synthesized = tmp_path / "synthesized"
    shutil.copytree(production.outdir, synthesized, symlinks=True)
    # What a pull request could smuggle beside its JSON: none of it may reach the work directory.
    (synthesized / "stacks" / "homu-data" / "override.tf.json").write_text('{"provider": {"http": {}}}')
    work = tmp_path / "work"
    result = run_ci("prepare", "--synthesized", str(synthesized), "--work", str(work), env=prod_env)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"prod: homu-data, homu-fargate, homu-ec2 pass the allowlist; laid out in {work}\n"
    )
    assert sorted(p.name for p in work.iterdir()) == sorted([*REMOTE_STATE_STACKS, PLUGINS])
    for stack in REMOTE_STATE_STACKS:
        assert sorted(p.name for p in (work / stack).iterdir()) == [".terraform.lock.hcl", CONFIG_FILE]
        assert (work / stack / ".terraform.lock.hcl").read_bytes() == (
            ROOT / "providers.lock.hcl"
        ).read_bytes()
    (binary,) = (work / PLUGINS).glob(
        "registry.terraform.io/hashicorp/aws/5.100.0/*/terraform-provider-aws_*"
    )
    assert binary.is_file() and not binary.is_symlink()
    # The plan step's init: the lock file read-only, providers from the plugin directory alone.
    init = subprocess.run(
        [
            "terraform",
            f"-chdir={work / 'homu-data'}",
            "init",
            "-backend=false",
            "-input=false",
            "-no-color",
            "-lockfile=readonly",
            f"-plugin-dir={(work / PLUGINS).resolve()}",
        ],
        env=prod_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr


def test_prepare_refuses_a_tampered_synthesis_writes_the_reason_and_lays_out_nothing(
    production, prod_env, tmp_path
):
    synthesized = tmp_path / "synthesized"
    shutil.copytree(production.outdir, synthesized, symlinks=True)
    path = synthesized / "stacks" / "homu-ec2" / "cdk.tf.json"
    config = json.loads(path.read_text())
    config["data"]["external"] = {"x": {"program": ["env"]}}
    path.write_text(json.dumps(config))
    work, out = tmp_path / "work", tmp_path / "plans" / "prod"
    result = run_ci(
        "prepare", "--synthesized", str(synthesized), "--work", str(work), "--out", str(out), env=prod_env
    )
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(
        r"error: homu-ec2: data\.external\.x: data source type 'external' is not allowed .*", line
    )
    assert not work.exists()
    assert (out / "refused.txt").read_text() == line.removeprefix("error: ") + "\n"
    comment = subprocess.run(
        [sys.executable, "-m", "tools.plan_summary", str(out.parent)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        "#### `prod`\n**Not planned**: the allowlist refused this synthesis:\n```\nhomu-ec2: data.external.x"
        in comment
    )


def test_prepare_names_a_missing_stack(production, prod_env, tmp_path):
    synthesized = tmp_path / "synthesized"
    shutil.copytree(production.outdir, synthesized, symlinks=True)
    shutil.rmtree(synthesized / "stacks" / "homu-fargate")
    result = run_ci("prepare", "--synthesized", str(synthesized), "--work", str(tmp_path / "w"), env=prod_env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: homu-fargate: {synthesized / 'stacks' / 'homu-fargate' / 'cdk.tf.json'} is not readable JSON"
    )


# --- the comment ------------------------------------------------------------------------------------


def plan_fixture(directory: Path, stack: str, exit_code: int, actions: list[list[str]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stack}.exit").write_text(f"{exit_code}\n")
    (directory / f"{stack}.txt").write_text(f"Plan for {stack}\n")
    if exit_code != 1:
        changes = [{"address": f"r.{i}", "change": {"actions": a}} for i, a in enumerate(actions)]
        (directory / f"{stack}.json").write_text(json.dumps({"resource_changes": changes}))


def summary(plans: Path, *extra: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "tools.plan_summary", str(plans), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_plan_comment_counts_adds_changes_destroys_per_environment_and_stack(tmp_path):
    prod, dev = tmp_path / "plans" / "prod", tmp_path / "plans" / "default"
    plan_fixture(prod, "homu-data", 0, [["no-op"], ["no-op"]])
    plan_fixture(
        prod, "homu-fargate", 2, [["create"], ["create"], ["update"], ["delete", "create"], ["no-op"]]
    )
    plan_fixture(prod, "homu-ec2", 2, [["update"], ["delete"]])
    plan_fixture(dev, "homu-data", 1, [])
    body = summary(tmp_path / "plans")
    assert body.startswith("<!-- homu-infra-plan -->\n### Terraform plan\n\n#### `default`\n")
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `homu-data` | **plan failed** | | | |",
        "| `homu-data` | no changes | 0 | 0 | 0 |",
        "| `homu-ec2` | changes | 0 | 1 | 1 |",
        "| `homu-fargate` | changes | 3 | 1 | 1 |",
    ]
    assert body.index("#### `default`") < body.index("#### `prod`")
    assert (
        "<details><summary><code>homu-fargate</code> plan</summary>" in body
        and "Plan for homu-fargate" in body
    )


def test_an_environment_without_plans_says_so(tmp_path):
    (tmp_path / "plans" / "prod").mkdir(parents=True)
    assert "#### `prod`\n**Not planned**: no plan was written (see the job log)." in summary(
        tmp_path / "plans"
    )


def test_the_review_comes_after_the_plans_labelled_and_cut_to_its_share(tmp_path):
    """A pull request's code writes the review: a fake plan and an unclosed fence in it come after the
    real plans, under a line that says whose output it is, and cannot hide them."""
    review = tmp_path / "review.md"
    review.write_text("<!-- homu-infra-plan -->\n### Terraform plan\nno changes\n```\n" + "x" * 50_000)
    plan_fixture(tmp_path / "plans" / "default", "homu-data", 2, [["delete"]])
    body = summary(tmp_path / "plans", "--review", str(review))
    assert body.startswith("<!-- homu-infra-plan -->\n### Terraform plan\n\n#### `default`\n")
    plans, shown = body.split("\n### Review\n\n", 1)
    assert "| `homu-data` | changes | 0 | 0 | 1 |" in plans
    assert shown.startswith("_Written by the pull request's own code")
    assert shown.endswith("… (cut: the whole review is the run's `review` artifact)\n")
    assert len(shown) < 40_500


def test_a_fork_gets_the_review_and_why_nothing_was_planned(tmp_path):
    review = tmp_path / "review.md"
    review.write_text("## Infrastructure review\n")
    body = summary(tmp_path / "plans", "--review", str(review))
    assert body == (
        "<!-- homu-infra-plan -->\n### Terraform plan\n\n"
        "Not planned in this run: plans run for this repository's branches once the tests pass.\n\n"
        "### Review\n\n" + plan_summary.REVIEW_SOURCE + "\n\n## Infrastructure review\n"
    )
    missing = summary(tmp_path / "plans", "--review", str(tmp_path / "none.md"))
    assert missing.endswith(
        "\n### Review\n\n"
        + plan_summary.REVIEW_SOURCE
        + "\n\nThe review job wrote no review for this run (see its log).\n"
    )


def test_the_comment_tools_run_on_a_bare_python():
    """The comment job has no packages: plan_summary imports the standard library alone, and so does
    the gate that every privileged job runs before anything is installed."""
    for module in ("tools.plan_summary", "tools.ci.gate"):
        loaded = subprocess.run(
            [sys.executable, "-S", "-c", f"import sys, {module}; print(' '.join(sys.modules))"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        outside = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"tools", "__main__"}
        assert outside == set(), module


def test_a_plan_cannot_close_its_code_block_and_write_the_comment(tmp_path):
    """A value the pull request chose (an output, a tag) appears in the plan text; backticks in it
    must not end the folded block and add, say, a fake row to the table."""
    prod = tmp_path / "plans" / "prod"
    plan_fixture(prod, "homu-data", 2, [["update"]])
    forged = '  ~ tags = "```\n| `homu-data` | no changes | 0 | 0 | 0 |\n````"'
    (prod / "homu-data.txt").write_text(f"Plan for homu-data\n{forged}\n")
    body = summary(tmp_path / "plans")
    table, folded = body.split("<details>", 1)
    assert [line for line in table.splitlines() if line.startswith("| `")] == [
        "| `homu-data` | changes | 0 | 1 | 0 |"
    ]
    # Inside a fence of five: the forged line's runs of three and four backticks cannot close it.
    assert f"\n`````\nPlan for homu-data\n{forged}\n`````\n" in folded
