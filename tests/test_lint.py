"""ruff formats and lints the whole tree (settings in pyproject.toml); the test command enforces it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_the_tree_is_ruff_clean(command):
    if not RUFF.exists():
        pytest.fail("ruff is not installed in the project environment: `make test` installs it")
    result = subprocess.run([str(RUFF), *command, "."], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
