"""The one reader of synthesized Terraform JSON (``cdktf.out/stacks/<stack>/cdk.tf.json``).

Cost, scan, rehearsal and the tests all read stacks through ``read_stack`` / ``read_stacks`` and ask
the returned ``Stack`` for resources, data sources, outputs, references and scan exceptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.names import SKIP_KEY

STACK_FILE = "cdk.tf.json"
# A Terraform interpolation, ``${expression}``.
INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
# A resource reference (not data.aws_...): type, name, and the attribute read, if any.
REFERENCE = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\.([A-Za-z_][A-Za-z0-9_]*))?")
# The arguments that hold a resource's own name in AWS, the first one set wins.
_NAME_KEYS = (
    "identifier", "replication_group_id", "cluster_identifier", "name", "family", "bucket", "function_name",
    "user_id", "user_group_id", "dashboard_name",
)  # fmt: skip


class TerraformJsonError(Exception):
    """A path that holds no readable stack; the message names it."""


@dataclass
class Stack:
    """One stack's Terraform JSON and the directory it was read from."""

    name: str
    directory: Path
    config: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.config.get("resource", {}).get(type_, {}) or {}

    def resource(self, type_: str) -> dict[str, Any]:
        """The single resource of a type; fails if there are none or several."""
        found = self.resources(type_)
        assert len(found) == 1, f"expected one {type_} in {self.name}, found {sorted(found)}"
        return next(iter(found.values()))

    def named(self, type_: str, path_suffix: str) -> dict[str, Any]:
        """The resource whose construct path ends with ``path_suffix`` (e.g. ``cache/group``)."""
        matches = [
            body
            for body in self.resources(type_).values()
            if construct_path(body).endswith("/" + path_suffix)
        ]
        assert len(matches) == 1, f"{type_} at */{path_suffix}: {len(matches)} matches in {self.name}"
        return matches[0]

    def data(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.config.get("data", {}).get(type_, {}) or {}

    @property
    def outputs(self) -> dict[str, Any]:
        return self.config.get("output", {})

    def blocks(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """``(block, type, name, body)`` for every resource and data source."""
        for block in ("resource", "data"):
            for type_, bodies in (self.config.get(block) or {}).items():
                for name, body in bodies.items():
                    yield block, type_, name, body

    def address(self, type_: str, body: dict[str, Any]) -> str:
        """The Terraform address of a resource body, e.g. ``aws_security_group.x``."""
        for name, candidate in self.resources(type_).items():
            if candidate is body:
                return f"{type_}.{name}"
        raise KeyError(body)

    def referenced(self, value: Any, type_: str) -> list[tuple[str, dict[str, Any]]]:
        """Resources of ``type_`` that a value (string, list, dict) refers to with ``${type.name...}``."""
        names = [
            name
            for expression in INTERPOLATION.findall(json.dumps(value))
            for kind, name, _ in REFERENCE.findall(expression)
            if kind == type_
        ]
        candidates = self.resources(type_)
        return [(name, candidates[name]) for name in dict.fromkeys(names) if name in candidates]

    def refers_to(self, value: Any, type_: str, name: str) -> bool:
        return any(found == name for found, _ in self.referenced(value, type_))

    def exceptions(self) -> dict[str, dict[str, str]]:
        """``{NAME: {check_id: reason}}`` from the ``//`` objects the scan exceptions are written to."""
        found = {}
        for _, _, name, body in self.blocks():
            comment = body.get("//") if isinstance(body, dict) else None
            if isinstance(comment, dict) and comment.get(SKIP_KEY):
                found[name] = dict(comment[SKIP_KEY])
        return found

    def provider_regions(self) -> dict[str | None, str]:
        """Region per alias (None: the default provider) of the aws providers; literals only."""
        providers = self.config.get("provider", {}).get("aws", [])
        providers = [providers] if isinstance(providers, dict) else providers
        regions: dict[str | None, str] = {}
        for block in providers:
            region = block.get("region")
            if not isinstance(region, str) or "${" in region:
                raise TerraformJsonError(
                    f"stack {self.name}: the aws provider's region is not a literal ({region!r})"
                )
            regions[block.get("alias")] = region
        if not regions:
            raise TerraformJsonError(f"stack {self.name}: no aws provider block")
        regions.setdefault(None, next(iter(regions.values())))
        return regions


def construct_path(body: dict[str, Any]) -> str:
    return body.get("//", {}).get("metadata", {}).get("path", "")


def literal(value: Any) -> str | None:
    """A string the configuration gives as it is, not an interpolation known only at apply."""
    return value if isinstance(value, str) and "${" not in value else None


def display_name(body: dict[str, Any]) -> str | None:
    """The resource's own name in AWS where the JSON has it literally (``identifier``, ``name``, the
    ``Name`` tag, ...), else None."""
    tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
    return next(filter(None, map(literal, [*(body.get(key) for key in _NAME_KEYS), tags.get("Name")])), None)


def read_stack(directory: Path, skip_unreadable: bool = False) -> Stack:
    """The stack in ``directory``: every ``*.tf.json`` there, merged block by block (``skip_unreadable``:
    leave out the files that do not parse instead of failing)."""
    sources = sorted(directory.glob("*.tf.json"))
    if not sources:
        raise TerraformJsonError(f"{directory}: no *.tf.json here (synthesize first: `make synth`)")
    config: dict[str, Any] = {}
    for source in sources:
        try:
            part = json.loads(source.read_text())
        except (OSError, ValueError) as error:
            if skip_unreadable:
                continue
            raise TerraformJsonError(f"{source}: {error}") from None
        for block, value in part.items():
            if block in ("resource", "data") and isinstance(value, dict):
                for type_, bodies in value.items():
                    config.setdefault(block, {}).setdefault(type_, {}).update(bodies)
            elif isinstance(value, dict) and isinstance(config.get(block), dict):
                config[block].update(value)
            else:
                config[block] = value
    return Stack(directory.name, directory, config)


def find_stack_dirs(paths: Iterable[Path]) -> list[Path]:
    """Each argument: a stack directory, a ``stacks`` directory, or a cdktf output directory."""
    found: list[Path] = []
    for path in paths:
        if (path / STACK_FILE).is_file():
            found.append(path)
        elif (path / "stacks").is_dir():
            found.extend(_stacks_in(path / "stacks"))
        elif path.is_dir() and _stacks_in(path):
            found.extend(_stacks_in(path))
        else:
            raise TerraformJsonError(
                f"{path}: no {STACK_FILE} here, nor stacks under it (synthesize first: `make synth`)"
            )
    return found


def read_stacks(outdir: Path) -> dict[str, Stack]:
    """Every stack of a cdktf output directory, by name."""
    return {directory.name: read_stack(directory) for directory in find_stack_dirs([outdir])}


def _stacks_in(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if (path / STACK_FILE).is_file())


def ref(address: str, attribute: str = "id") -> str:
    """The interpolation a synthesized reference to ``address.attribute`` is written as."""
    return "${" + f"{address}.{attribute}" + "}"


# ``data.terraform_remote_state.<stack>.outputs.<output>``: a value read from another stack's state.
REMOTE_OUTPUT = re.compile(r"data\.terraform_remote_state\.([A-Za-z0-9_-]+)\.outputs\.(\w+)")


def remote_output(value: Any) -> tuple[str, str] | None:
    """``(stack, output)`` when ``value`` is exactly ``${`` a reference to another stack's output ``}``."""
    if not (isinstance(value, str) and value.startswith("${") and value.endswith("}")):
        return None
    match = REMOTE_OUTPUT.fullmatch(value[2:-1])
    return (match[1], match[2]) if match else None
