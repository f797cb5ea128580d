"""What a change does to each stack's resources, read from the synthesized JSON of base and head.

Resources are matched by address. A resource in both whose arguments differ is an update, or a
replacement where a changed argument forces a new resource (``tools.review.forces``). A replacement
changes the replaced resource's ids, so whatever refers to it changes too: a resource whose argument
reads a replaced one's ids (or a literal the change rewrites, or an updated attribute), in its own
stack or through an output of another stack's state, is updated, or replaced when that argument
forces it, and so on until nothing more changes. ``moved``
blocks turn a removal and an addition into a move, ``import`` blocks an addition into an import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tools.review.forces import forced_by
from tools.tfjson import INTERPOLATION, REFERENCE, REMOTE_OUTPUT, Stack, construct_path, display_name

# The ``//`` object holds the construct path and the scan exceptions: cdktf's notes, not arguments.
NOTES_KEY = "//"
# Types whose destruction loses data, or the means to read it (a key destroys what it encrypted).
DATA_HOLDERS = frozenset(
    {
        "aws_db_instance",
        "aws_ebs_volume",
        "aws_ecr_repository",
        "aws_elasticache_replication_group",
        "aws_kms_key",
        "aws_s3_bucket",
        "aws_secretsmanager_secret",
        "aws_cloudwatch_log_group",
    }
)


class Action(Enum):
    """Ordered as a reviewer reads them: what destroys first."""

    DELETE = "delete"
    REPLACE = "replace"
    CREATE = "create"
    IMPORT = "import"
    MOVE = "move"
    UPDATE = "update"

    @property
    def destroys(self) -> bool:
        return self in (Action.DELETE, Action.REPLACE)


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class AttributeChange:
    name: str
    before: Any
    after: Any


@dataclass
class ResourceChange:
    stack: str
    type: str
    name: str
    label: str  # the resource's own name in AWS where the JSON has it, else its construct path
    action: Action
    attributes: list[AttributeChange] = field(default_factory=list)
    forcing: list[str] = field(default_factory=list)  # the arguments that force the replacement
    maybe_forcing: list[str] = field(default_factory=list)  # blocks where only some fields force it
    replacement_unknown: bool = False  # the type is not in the table: in place is not proven
    causes: list[str] = field(default_factory=list)  # replaced resources whose new ids reach this one
    moved_from: str | None = None

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"

    @property
    def data_holder(self) -> bool:
        return self.type in DATA_HOLDERS

    @property
    def loud(self) -> bool:
        """A destroy or replacement of something that holds data: said first, and loud."""
        return self.action.destroys and self.data_holder

    def sort_key(self) -> tuple:
        return (not self.loud, list(Action).index(self.action), self.stack, self.address)


def _arguments(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != NOTES_KEY}


def label(body: dict[str, Any]) -> str:
    path = construct_path(body)
    return display_name(body) or (path.split("/", 1)[-1] if path else "")


def attribute_changes(before: dict[str, Any], after: dict[str, Any]) -> list[AttributeChange]:
    old, new = _arguments(before), _arguments(after)
    return [
        AttributeChange(key, old.get(key, MISSING), new.get(key, MISSING))
        for key in sorted({*old, *new})
        if old.get(key, MISSING) != new.get(key, MISSING)
    ]


def _resources(stack: Stack | None) -> dict[str, dict[str, Any]]:
    if stack is None:
        return {}
    return {f"{type_}.{name}": body for block, type_, name, body in stack.blocks() if block == "resource"}


def _blocks(stack: Stack | None, kind: str) -> list[dict[str, Any]]:
    found = (stack.config.get(kind) if stack else None) or []
    return found if isinstance(found, list) else [found]


def _change(stack: str, address: str, body: dict[str, Any], action: Action) -> ResourceChange:
    type_, name = address.split(".", 1)
    return ResourceChange(stack, type_, name, label(body), action)


def _classify(change: ResourceChange, names: list[str], body: dict[str, Any]) -> None:
    """Update or replacement, from the changed argument names and the resource's new arguments."""
    verdict = forced_by(change.type, names, body)
    change.replacement_unknown = verdict.unknown_type
    change.forcing = sorted(set(change.forcing) | set(verdict.forcing))
    change.maybe_forcing = sorted(set(change.maybe_forcing) | set(verdict.maybe))
    if change.forcing:
        change.action = Action.REPLACE


def diff_stack(name: str, base: Stack | None, head: Stack | None) -> list[ResourceChange]:
    """The resource changes of one stack (without the ones a replacement elsewhere sets off)."""
    old, new = _resources(base), _resources(head)
    moves = {
        block["from"]: block["to"]
        for block in _blocks(head, "moved")
        if block.get("from") in old and block.get("to") in new
    }
    imports = {block.get("to") for block in _blocks(head, "import")}
    changes: list[ResourceChange] = []
    for address in sorted(old.keys() - new.keys() - moves.keys()):
        changes.append(_change(name, address, old[address], Action.DELETE))
    moved_to = {target: source for source, target in moves.items()}
    for address in sorted(new.keys() - old.keys()):
        if address in moved_to:
            change = _change(name, address, new[address], Action.MOVE)
            change.moved_from = moved_to[address]
            change.attributes = attribute_changes(old[moved_to[address]], new[address])
            _classify(change, [a.name for a in change.attributes], new[address])
        else:
            action = Action.IMPORT if address in imports else Action.CREATE
            change = _change(name, address, new[address], action)
            change.attributes = attribute_changes({}, new[address])
        changes.append(change)
    for address in sorted(old.keys() & new.keys()):
        attributes = attribute_changes(old[address], new[address])
        if attributes:
            change = _change(name, address, new[address], Action.UPDATE)
            change.attributes = attributes
            _classify(change, [a.name for a in attributes], new[address])
            changes.append(change)
    return changes


def _references(value: Any) -> set[tuple[str, str]]:
    """``(address, attribute)`` of the resources a value reads, and ``(stack:output, "")`` of the
    other stacks' outputs."""
    found: set[tuple[str, str]] = set()
    for expression in INTERPOLATION.findall(json.dumps(value)):
        found.update((f"{kind}.{name}", attribute) for kind, name, attribute in REFERENCE.findall(expression))
        found.update((f"{stack}:{output}", "") for stack, output in REMOTE_OUTPUT.findall(expression))
    return found


def _given(body: dict[str, Any], attribute: str) -> bool:
    """Whether the configuration gives ``attribute`` a value known before apply (``identifier``),
    unlike the ids AWS assigns (``id``, ``arn``, ``resource_id``)."""
    return attribute in body and "${" not in json.dumps(body[attribute])


class _Renewal:
    """What changes under a reference: a replaced resource's ids and whatever of its literals the
    change rewrites, an updated resource's changed attributes, and the outputs whose value changes
    (written differently, or reading something that changes)."""

    def __init__(self, base: dict[str, Stack], head: dict[str, Stack], changes: list[ResourceChange]) -> None:
        self.head = head
        self.bodies = {name: _resources(stack) for name, stack in head.items()}
        self.base_bodies = {name: _resources(stack) for name, stack in base.items()}
        self.replaced = {(c.stack, c.address) for c in changes if c.action is Action.REPLACE}
        self.updated = {
            (c.stack, c.address): {a.name for a in c.attributes}
            for c in changes
            if c.action in (Action.UPDATE, Action.MOVE)
        }
        self.outputs = {
            f"{name}:{output}"
            for name, stack in head.items()
            if name in base
            for output, body in stack.outputs.items()
            if base[name].outputs.get(output, {}).get("value") != body.get("value")
        }

    def _kept(self, stack: str, target: str, attribute: str) -> bool:
        """A literal the change leaves alone survives the replacement (the same ``identifier``)."""
        now = self.bodies[stack].get(target, {})
        before = self.base_bodies.get(stack, {}).get(target, {})
        return bool(attribute) and _given(now, attribute) and before.get(attribute) == now.get(attribute)

    def renews(self, stack: str, reference: tuple[str, str]) -> bool:
        target, attribute = reference
        if ":" in target:
            return target in self.outputs
        if (stack, target) in self.replaced:
            return not self._kept(stack, target, attribute)
        return attribute in self.updated.get((stack, target), ())

    def add_outputs(self) -> bool:
        renewed = {
            f"{name}:{output}"
            for name, stack in self.head.items()
            for output, body in stack.outputs.items()
            if any(self.renews(name, ref) for ref in _references(body.get("value")))
        }
        added = renewed - self.outputs
        self.outputs |= added
        return bool(added)


def _follow(
    renewal: _Renewal, stack: str, address: str, body: dict[str, Any], existing: ResourceChange | None
) -> ResourceChange | None:
    """The change a resource gets from what it reads, or None when nothing new it reads changes."""
    if existing and existing.action in (Action.CREATE, Action.IMPORT, Action.REPLACE):
        return None
    hits = {
        key: {ref[0] for ref in _references(value) if renewal.renews(stack, ref)}
        for key, value in _arguments(body).items()
    }
    hits = {key: refs for key, refs in hits.items() if refs}
    causes = {ref for refs in hits.values() for ref in refs} - set(existing.causes if existing else ())
    if not causes:
        return None
    change = existing or _change(stack, address, body, Action.UPDATE)
    change.causes = sorted({*change.causes, *causes})
    _classify(change, list(hits), body)
    return change


def _cascade(base: dict[str, Stack], head: dict[str, Stack], changes: list[ResourceChange]) -> None:
    """Adds or upgrades the changes that replacements, updates and changed outputs set off, until
    none is added."""
    by_key = {(c.stack, c.address): c for c in changes}
    renewal = _Renewal(base, head, changes)
    added = True
    while added:
        added = renewal.add_outputs()
        for stack, bodies in renewal.bodies.items():
            for address, body in bodies.items():
                change = _follow(renewal, stack, address, body, by_key.get((stack, address)))
                if change is None:
                    continue
                if (stack, address) not in by_key:
                    changes.append(change)
                    by_key[(stack, address)] = change
                if change.action is Action.REPLACE:
                    renewal.replaced.add((stack, address))
                added = True


def diff(base: dict[str, Stack], head: dict[str, Stack]) -> list[ResourceChange]:
    """Every resource change of every stack in either, the loud ones first."""
    changes = [
        change
        for name in sorted({*base, *head})
        for change in diff_stack(name, base.get(name), head.get(name))
    ]
    _cascade(base, head, changes)
    return sorted(changes, key=ResourceChange.sort_key)
