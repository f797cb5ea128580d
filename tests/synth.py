"""Synthesize stacks in-process and read them back through tools.tfjson, for assertions.

One configuration is synthesized once per test session (``conftest.synth``); these helpers only read.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import modules  # noqa: F401  (before cdktf: installs the jsii lazy-loading preload)
from modules.app import build_app
from modules.secrets import AppEnvironment
from modules.settings import Settings, validate
from tools.tfjson import Stack, read_stacks


@dataclass
class Synth:
    settings: Settings
    outdir: Path
    stacks: dict[str, Stack]

    def __getitem__(self, name: str) -> Stack:
        return self.stacks[name]


def synthesize(raw: dict[str, Any], outdir: Path) -> Synth:
    settings = validate(raw)
    build_app(settings, outdir).synth()
    return Synth(settings, outdir, read_stacks(outdir))


def data_output(name: str) -> str:
    """How a compute stack refers to output ``name`` of homu-data (read from its state)."""
    return f"${{data.terraform_remote_state.homu-data.outputs.{name}}}"


def app_environment() -> AppEnvironment:
    """The app's environment as a compute builds it: every value read from homu-data's state."""
    return AppEnvironment(**{field.name: data_output(field.name) for field in fields(AppEnvironment)})
