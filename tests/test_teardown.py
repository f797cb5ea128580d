"""``destroy homu-data`` waits until no compute's state holds anything (``tools/teardown.py``), against a
fake Terraform whose ``state list`` prints ``$FAKE_STATES/<stack>.txt``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.cdktf import CLI_PATH_VARIABLE
from tools.teardown import TeardownRefused, check_data_tier_destroy, destroyed_stacks

FAKE_TERRAFORM = """#!/bin/sh
directory="${1#-chdir=}"
echo "$*" >> "$directory/calls"
case "$2" in
  init) [ -e "$FAKE_STATES/$(basename "$directory").init-fails" ] && {
      echo "Error: Failed to get existing workspaces" >&2; exit 1; }; exit 0;;
  state) state="$FAKE_STATES/$(basename "$directory").txt"; [ -e "$state" ] && cat "$state"; exit 0;;
esac
exit 3
"""
EC2_STATE = "aws_instance.host_instance\naws_eip.host_address\ndata.aws_ami.host_ubuntu\n"


@pytest.fixture
def stacks(tmp_path, monkeypatch) -> Path:
    """A synthesized-looking stacks directory, and the fake Terraform first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text(FAKE_TERRAFORM)
    (bin_dir / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_STATES", str(tmp_path / "states"))
    (tmp_path / "states").mkdir()
    for stack in ("homu-data", "homu-fargate", "homu-ec2"):
        (tmp_path / "stacks" / stack).mkdir(parents=True)
    return tmp_path / "stacks"


def state(stacks: Path, stack: str) -> Path:
    return stacks.parent / "states" / f"{stack}.txt"


@pytest.mark.parametrize(
    ("args", "stacks"),
    [
        (["destroy", "homu-data", "--ignore-missing-stack-dependencies"], ["homu-data"]),
        (["destroy", "--auto-approve", "homu-fargate", "homu-data"], ["homu-fargate", "homu-data"]),
        (["deploy", "homu-data"], []),
        (["destroy"], []),
    ],
)
def test_the_destroyed_stacks_are_read_from_the_arguments(args, stacks):
    assert destroyed_stacks(args) == stacks


def test_a_compute_that_still_holds_resources_refuses_the_data_tiers_destroy(stacks):
    state(stacks, "homu-ec2").write_text(EC2_STATE)
    with pytest.raises(TeardownRefused) as refused:
        check_data_tier_destroy(["destroy", "homu-data", "--ignore-missing-stack-dependencies"], stacks)
    assert refused.value.lines == [
        (
            "homu-ec2 still holds 2 resources, some of them in homu-data's network and groups: destroying "
            "homu-data now would delete the database and the cache, then fail; destroy it first: "
            "python -m tools.cdktf destroy homu-ec2"
        )
    ]
    # Each compute's state was read through its own synthesized directory.
    for compute in ("homu-fargate", "homu-ec2"):
        calls = (stacks / compute / "calls").read_text().splitlines()
        assert calls == [
            f"-chdir={stacks / compute} init -input=false -no-color",
            f"-chdir={stacks / compute} state list",
        ]


def test_empty_compute_states_let_it_go_and_computes_destroyed_with_it_are_not_read(stacks):
    state(stacks, "homu-fargate").write_text("data.aws_caller_identity.account\n")  # data only
    check_data_tier_destroy(["destroy", "homu-data", "--ignore-missing-stack-dependencies"], stacks)
    state(stacks, "homu-ec2").write_text(EC2_STATE)
    (stacks / "homu-fargate" / "calls").unlink()
    check_data_tier_destroy(["destroy", "homu-ec2", "homu-fargate", "homu-data"], stacks)
    assert (stacks / "homu-ec2" / "calls").read_text().count("state list") == 1  # the first check only
    assert not (stacks / "homu-fargate" / "calls").exists()


def test_a_state_that_cannot_be_read_refuses_too_naming_terraforms_error(stacks):
    state(stacks, "homu-fargate").with_suffix(".init-fails").touch()
    with pytest.raises(TeardownRefused) as refused:
        check_data_tier_destroy(["destroy", "homu-data"], stacks)
    assert refused.value.lines == [
        "could not read homu-fargate's state: terraform init failed: Error: Failed to get existing workspaces"
    ]


def test_the_wrapper_refuses_before_the_cli_starts(stacks, tmp_path):
    """``python -m tools.cdktf destroy homu-data --ignore-missing-stack-dependencies`` as a user runs it:
    the app is synthesized, the compute's state read, and the CLI never started."""
    cli = tmp_path / "cdktf"
    cli.write_text(f"#!/bin/sh\ntouch {tmp_path / 'cli-started'}\n")
    cli.chmod(0o755)
    work = tmp_path / "project"
    work.mkdir()
    # The wrapper reads the states of the synthesis it makes in the working directory.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOMU_")},
        CLI_PATH_VARIABLE: str(cli),
        "PYTHONPATH": str(ROOT),
    }

    def destroy_data() -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.cdktf",
                "destroy",
                "homu-data",
                "--ignore-missing-stack-dependencies",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    result = destroy_data()
    assert (work / "cdktf.out" / "stacks" / "homu-ec2" / "cdk.tf.json").exists()
    # Nothing held: the CLI starts.
    assert result.returncode == 0 and (tmp_path / "cli-started").exists(), result.stderr
    (tmp_path / "cli-started").unlink()
    state(stacks, "homu-ec2").write_text(EC2_STATE)
    refused = destroy_data()
    assert refused.returncode == 1 and not (tmp_path / "cli-started").exists()
    assert refused.stderr.splitlines() == [
        (
            "error: homu-ec2 still holds 2 resources, some of them in homu-data's network and groups: destroying "
            "homu-data now would delete the database and the cache, then fail; destroy it first: "
            "python -m tools.cdktf destroy homu-ec2"
        ),
        "the cdktf CLI was not started; nothing was destroyed",
    ]
