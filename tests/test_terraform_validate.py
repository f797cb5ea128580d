"""Every synthesized stack passes `terraform validate` against the pinned provider (offline mirror)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.terraform

STACKS = ["homu-state", "homu-fargate", "homu-ec2"]


def terraform(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def validate(stack_dir: Path, workdir: Path, env: dict[str, str]) -> dict:
    """init -backend=false + validate on a copy of the stack; returns validate's JSON report."""
    workdir.mkdir(parents=True)
    shutil.copy(stack_dir / "cdk.tf.json", workdir / "cdk.tf.json")
    init = terraform(["init", "-backend=false", "-input=false", "-no-color"], workdir, env)
    assert init.returncode == 0, f"terraform init failed for {stack_dir.name}:\n{init.stderr}{init.stdout}"
    result = terraform(["validate", "-json", "-no-color"], workdir, env)
    return json.loads(result.stdout)


def diagnostics(report: dict) -> str:
    return "\n".join(
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')} ({d.get('range', {}).get('filename', '')})"
        for d in report["diagnostics"]
    )


@pytest.mark.parametrize("stack_name", STACKS)
@pytest.mark.parametrize("config", ["default", "production"])
def test_stack_is_valid_terraform(request, tmp_path, terraform_env, config, stack_name):
    synth = request.getfixturevalue(config)
    report = validate(synth[stack_name].directory, tmp_path / stack_name, terraform_env)
    assert report["valid"], diagnostics(report)
    assert report["warning_count"] == 0, diagnostics(report)


def test_validation_fails_with_terraforms_own_diagnostics(default, tmp_path, terraform_env):
    """The check above can fail: an attribute the provider does not know is reported by name."""
    broken = tmp_path / "broken"
    broken.mkdir()
    config = json.loads((default["homu-data"].directory / "cdk.tf.json").read_text())
    next(iter(config["resource"]["aws_db_instance"].values()))["storage_encryptd"] = True
    (broken / "cdk.tf.json").write_text(json.dumps(config))
    report = validate(broken, tmp_path / "work", terraform_env)
    assert not report["valid"]
    assert 'No argument or block type is named "storage_encryptd"' in diagnostics(report)
