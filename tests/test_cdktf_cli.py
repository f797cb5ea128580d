"""`cdktf synth` through the real CLI (npm cdktf-cli@0.21.0) produces what the tests assert on."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from modules.names import STACKS
from tests.conftest import ROOT

CLI = ROOT / "node_modules" / ".bin" / "cdktf"


@pytest.fixture(scope="module")
def cli_env() -> dict[str, str]:
    if not CLI.exists():
        pytest.fail("cdktf-cli is not installed: run `npm ci` (the README's test command does)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMU_")}
    return {**env, "CI": "1", "CHECKPOINT_DISABLE": "1"}


def cdktf_synth(outdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), "synth", "--output", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_cli_synth_matches_the_in_process_synthesis(tmp_path, cli_env, default):
    result = cdktf_synth(tmp_path / "out", cli_env)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(STACKS)
    for name, stack in default.stacks.items():
        assert json.loads((tmp_path / "out" / "stacks" / name / "cdk.tf.json").read_text()) == stack.config, (
            name
        )


def test_cli_synth_stops_on_bad_settings(tmp_path, cli_env):
    result = cdktf_synth(tmp_path / "out", {**cli_env, "HOMU_FARGATE_CPU": "3"})
    assert result.returncode != 0
    assert "setting fargate_cpu (HOMU_FARGATE_CPU): got '3'" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "stacks").exists()
