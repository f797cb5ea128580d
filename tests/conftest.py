from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsals import LANES, Rehearsals
from tests.synth import Synth, synthesize
from tools.rehearsal.terraform import terraform_cli_environment

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = json.loads((ROOT / "environments" / "prod.json").read_text())
LEAN = json.loads((ROOT / "environments" / "lean.json").read_text())

REHEARSALS = pytest.StashKey[Rehearsals]()


def run_main(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python main.py`` in ``cwd`` as a user runs it: no settings from this shell (HOMU_*), no cdktf
    CLI (CDKTF_OUTDIR), so it synthesizes into ``cwd/cdktf.out``; ``env`` adds variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOMU_") and k != "CDKTF_OUTDIR"}
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Rehearsal tests only wait for the background lanes: they go last, after everything they overlap."""
    items.sort(key=lambda item: item.get_closest_marker("rehearsal") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Starts the rehearsal lanes the selected tests name (``rehearsal(LANE, ...)``) as soon as
    collection ends, so their minutes of provider waits overlap the rest of the suite."""
    if session.config.option.collectonly:
        return
    wanted = {lane for item in session.items for mark in item.iter_markers("rehearsal") for lane in mark.args}
    if wanted:
        session.config.stash[REHEARSALS] = Rehearsals(lane for lane in LANES if lane in wanted)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if REHEARSALS in config.stash:
        for line in config.stash[REHEARSALS].close():
            terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    """However the session ends, no rehearsal (Terraform, emulator) outlives it."""
    if REHEARSALS in config.stash:
        config.stash[REHEARSALS].close()


@pytest.fixture(scope="session")
def rehearsals(request) -> Rehearsals:
    return request.config.stash[REHEARSALS]


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Callable[..., Synth]:
    """``synth(**settings)``: synthesize that configuration once per session and reuse it."""
    cache: dict[str, Synth] = {}

    def _synth(**raw: Any) -> Synth:
        key = json.dumps(raw, sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(raw, tmp_path_factory.mktemp("synth"))
        return cache[key]

    return _synth


@pytest.fixture(scope="session")
def default(synth) -> Synth:
    """No settings at all: the guide's defaults."""
    return synth()


@pytest.fixture(scope="session")
def production(synth) -> Synth:
    """The committed production configuration (environments/prod.json)."""
    return synth(**PRODUCTION)


@pytest.fixture(scope="session")
def lean(synth) -> Synth:
    """The committed configuration inside the guide's option-1 budget (environments/lean.json)."""
    return synth(**LEAN)


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory) -> dict[str, str]:
    """Environment for the terraform CLI: the offline provider mirror when this machine has one."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not installed; Terraform 1.11+ is a prerequisite, see README")
    return terraform_cli_environment(tmp_path_factory.mktemp("terraform"))
