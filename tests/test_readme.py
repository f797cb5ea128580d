"""Promises that can drift: the README's two commands, and the cost figures docs/costs.md quotes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modules.names import STACKS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
COSTS = (ROOT / "docs" / "costs.md").read_text()


def test_readme_starts_with_the_two_commands_ci_runs():
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in block] == ["make synth", "make test"]
    commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # The README's test command and nothing else: every green CI run is the newcomer's path.
    assert commands == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', "make test"]


@pytest.mark.parametrize("config", ["default", "production", "lean"])
def test_cost_pages_are_what_the_cost_command_prints(request, config):
    synth = request.getfixturevalue(config)
    dirs = [str(synth[name].directory) for name in sorted(STACKS)]
    printed = subprocess.run(
        [sys.executable, "-m", "tools.cost", *dirs, "--format", "markdown"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    page = ROOT / "docs" / f"costs-{config}.md"
    assert printed == page.read_text(), (
        f"{page.name} is stale: regenerate it with `python -m tools.cost --format markdown`"
    )
    summary = printed.split("\n### ")[0].replace("## Monthly cost estimate\n\n", "")
    assert summary in COSTS, "the cost summary in docs/costs.md differs from the command's"
