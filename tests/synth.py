"""Synthesize stacks in-process and read the Terraform JSON back, for assertions.

One configuration is synthesized once per test session (``conftest.synth``); these helpers only read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modules  # noqa: F401  (before cdktf: installs the jsii lazy-loading preload)
from modules.app import build_app
from modules.settings import Settings, validate


@dataclass
class Stack:
    """One synthesized stack: its JSON and the directory it was written to."""

    name: str
    directory: Path
    config: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.config.get("resource", {}).get(type_, {})

    def resource(self, type_: str) -> dict[str, Any]:
        """The single resource of a type; fails if there are none or several."""
        found = self.resources(type_)
        assert len(found) == 1, f"expected one {type_} in {self.name}, found {sorted(found)}"
        return next(iter(found.values()))

    def named(self, type_: str, path_suffix: str) -> dict[str, Any]:
        """The resource whose construct path ends with ``path_suffix`` (e.g. ``cache/group``)."""
        matches = [
            body for body in self.resources(type_).values()
            if body["//"]["metadata"]["path"].endswith("/" + path_suffix)
        ]  # fmt: skip
        assert len(matches) == 1, f"{type_} at */{path_suffix}: {len(matches)} matches in {self.name}"
        return matches[0]

    def data(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.config.get("data", {}).get(type_, {})

    def address(self, type_: str, body: dict[str, Any]) -> str:
        """The Terraform reference prefix of a resource body, e.g. ``aws_security_group.x``."""
        for name, candidate in self.resources(type_).items():
            if candidate is body:
                return f"{type_}.{name}"
        raise KeyError(body)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.config.get("output", {})


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
    stacks = {}
    for directory in sorted((outdir / "stacks").iterdir()):
        config = json.loads((directory / "cdk.tf.json").read_text())
        stacks[directory.name] = Stack(directory.name, directory, config)
    return Synth(settings, outdir, stacks)


def ref(address: str, attribute: str = "id") -> str:
    return "${" + f"{address}.{attribute}" + "}"
