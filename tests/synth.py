"""Synthesize stacks in-process and read them back through tools.tfjson, for assertions.

One configuration is synthesized once per test session (``conftest.synth``); these helpers only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modules  # noqa: F401  (before cdktf: installs the jsii lazy-loading preload)
from modules.app import build_app
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


def data_output(name: str, key: str | None = None) -> str:
    """How a compute stack refers to output ``name`` of homu-data (read from its state), or to one
    ``key`` of a map output."""
    return f"${{data.terraform_remote_state.homu-data.outputs.{name}{f'.{key}' if key else ''}}}"


def app_secret_references() -> dict[str, str]:
    """Each variable the app reads, as a compute names its secret: the data tier's ARN for it."""
    from modules.secrets import JSON_KEYS

    return {name: data_output("app_secret_arns", name) for name in JSON_KEYS}
