"""The project's own synthesis of a set of settings and Terraform's read-only plan of each stack:
``terraform plan -lock=false`` refreshes from the account and writes nothing (no state, no lock).
``tools.adopt`` and ``tools.drift`` plan through it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modules.names import REMOTE_STATE_STACKS
from tools.review.synth import synthesize_main
from tools.terraform_cli import terraform
from tools.tfjson import Stack, read_stack

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 1200


class PlanFailed(Exception):
    """Terraform could not plan a stack; the message holds its error lines."""


class SynthesisFailed(Exception):
    """``main.py`` failed for these settings; the message is what it printed."""


@contextmanager
def synthesis(raw: dict[str, Any], *, prefix: str) -> Iterator[Path]:
    """The cdktf output of these settings, in a temporary directory removed afterwards. ``raw`` holds
    every effective setting, so the review's synthesis (a child process, which a Ctrl-C stops with the
    rest; no credential, none of the ``HOMU_*`` variables) fits as it is."""
    work = Path(tempfile.mkdtemp(prefix=f"homu-{prefix}-"))
    try:
        (work / "settings.json").write_text(json.dumps(raw))
        if error := synthesize_main(ROOT, work / "settings.json", work / "cdktf.out"):
            raise SynthesisFailed(error)
        yield work / "cdktf.out"
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def synthesized(raw: dict[str, Any], *, prefix: str) -> Iterator[dict[str, Stack]]:
    """The remote-state stacks of ``synthesis``, read; a failed synthesis is a PlanFailed."""
    try:
        with synthesis(raw, prefix=prefix) as outdir:
            yield {name: read_stack(outdir / "stacks" / name) for name in REMOTE_STATE_STACKS}
    except SynthesisFailed as error:
        raise PlanFailed("the synthesis failed:\n  " + str(error).replace("\n", "\n  ")) from None


def _terraform(directory: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    return terraform(directory, *args, timeout=TIMEOUT, env=env)


def plan(stack: Stack, *, deployed: bool) -> dict[str, Any]:
    """``terraform show -json`` of a read-only plan of the synthesized ``stack``. A stack never
    deployed is planned on an empty local state: ``init`` on the S3 backend would write one there."""
    if not deployed:
        local = {"terraform": {"backend": {"local": {"path": "readonly.tfstate"}}}}
        (stack.directory / "readonly_override.tf.json").write_text(json.dumps(local))
    for args in (
        ("init", "-input=false", "-no-color"),
        ("plan", "-input=false", "-no-color", "-lock=false", "-out=readonly.tfplan"),
    ):
        run = _terraform(stack.directory, *args)
        if run.returncode:
            errors = [line for line in run.stderr.splitlines() if line.strip()] or run.stdout.splitlines()
            raise PlanFailed(f"{stack.name}: terraform {args[0]} failed:\n  " + "\n  ".join(errors[-20:]))
    shown = _terraform(stack.directory, "show", "-json", "readonly.tfplan")
    if shown.returncode:
        raise PlanFailed(f"{stack.name}: terraform show failed: {shown.stderr.strip()}")
    return json.loads(shown.stdout)
