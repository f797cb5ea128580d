"""The data tier outlives its computes: ``destroy homu-data`` waits until no compute's state holds anything.

The cdktf CLI checks the app, not what is deployed: ``destroy homu-data`` alone is refused while the
app has computes, deployed or not, and ``--ignore-missing-stack-dependencies`` lifts that for all of
them. With a compute still deployed, that destroy deletes the database and the cache, then fails on
what the compute still uses (its rules in the data tier's groups, its load balancer or host in the
data tier's subnets). So ``python -m tools.cdktf`` reads each other compute's state first
(``terraform state list`` in its synthesized directory) and refuses, naming the command that comes
first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from modules.names import COMPUTE_STACKS, DATA_STACK, STACKS
from tools.terraform_cli import terraform

TIMEOUT = 600


class TeardownRefused(Exception):
    """The destroy may not start: one line per reason, already phrased for the user."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def destroyed_stacks(args: list[str]) -> list[str]:
    """The stacks a ``destroy`` command names ([] for any other command)."""
    words = [arg for arg in args if not arg.startswith("-")]
    if not words or words[0] != "destroy":
        return []
    return [word for word in words[1:] if word in STACKS]


def check_data_tier_destroy(args: list[str], stacks_dir: Path) -> None:
    """Raises TeardownRefused when ``args`` destroy the data tier while a compute it does not also
    destroy still holds resources in its state."""
    destroying = destroyed_stacks(args)
    if DATA_STACK not in destroying:
        return
    lines = []
    for compute in COMPUTE_STACKS:
        if compute in destroying:
            continue
        held = resources_in_state(stacks_dir / compute)
        if held:
            lines.append(
                f"{compute} still holds {held} resources, some of them in {DATA_STACK}'s network and "
                f"groups: destroying {DATA_STACK} now would delete the database and the cache, then fail; "
                f"destroy it first: python -m tools.cdktf destroy {compute}"
            )
    if lines:
        raise TeardownRefused(lines)


def resources_in_state(directory: Path) -> int:
    """How many managed resources the state of the stack synthesized in ``directory`` holds."""
    stack = directory.name
    init = _terraform(directory, "init", "-input=false", "-no-color")
    if init.returncode != 0:
        raise TeardownRefused([f"could not read {stack}'s state: terraform init failed: {_last(init)}"])
    listed = _terraform(directory, "state", "list")
    if listed.returncode != 0:
        raise TeardownRefused(
            [f"could not read {stack}'s state: terraform state list failed: {_last(listed)}"]
        )
    return sum(1 for line in listed.stdout.splitlines() if line.strip() and not line.startswith("data."))


def _terraform(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return terraform(directory, *args, timeout=TIMEOUT)


def _last(result: subprocess.CompletedProcess) -> str:
    """Terraform's first error line, else its last line."""
    said = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line for line in said if line.startswith("Error")]
    return (errors or said or [f"exit {result.returncode}"])[0 if errors else -1]
