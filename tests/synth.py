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
