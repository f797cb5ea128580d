"""How a change moves each stack's monthly cost: the lines whose monthly amount changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.cost.model import Line, StackCost


@dataclass
class Change:
    address: str
    item: str  # the new line's description (the old one's for a removed line)
    old: float
    new: float
    old_item: str | None = None  # set when the description changed (another class, size, count, ...)

    @property
    def delta(self) -> float:
        return self.new - self.old

    @property
    def label(self) -> str:
        return self.item + (
            f" (was: {self.old_item})" if self.old_item and self.old_item != self.item else ""
        )


@dataclass
class StackDelta:
    name: str
    old: StackCost | None
    new: StackCost | None
    changed: list[Change]

    @property
    def old_total(self) -> float:
        return self.old.total if self.old else 0.0

    @property
    def new_total(self) -> float:
        return self.new.total if self.new else 0.0

    @property
    def delta(self) -> float:
        return self.new_total - self.old_total


def _line_key(line: Line) -> tuple[str, str]:
    # One charge of one resource: the price key without its class/type part, so a db.t3.micro ->
    # db.t3.small change is one changed line, not a removal and an addition.
    return line.address, line.price_key.split(":")[0]


def compare(old: list[StackCost], new: list[StackCost]) -> list[StackDelta]:
    old_by, new_by = {r.name: r for r in old}, {r.name: r for r in new}
    deltas = []
    for name in list(dict.fromkeys([*new_by, *old_by])):
        before, after = old_by.get(name), new_by.get(name)
        sums: dict[tuple[str, str], list[Any]] = {}
        for index, report in enumerate((before, after)):
            for line in report.lines if report else []:
                entry = sums.setdefault(_line_key(line), [0.0, 0.0, None, None])
                entry[index] += line.monthly
                entry[2 + index] = entry[2 + index] or line.item
        changed = [
            Change(address, new_item or old_item, o, n, old_item if new_item else None)
            for (address, _), (o, n, old_item, new_item) in sums.items()
            if abs(n - o) >= 0.005
        ]
        changed.sort(key=lambda c: (-abs(c.delta), c.address, c.item))
        deltas.append(StackDelta(name, before, after, changed))
    return deltas
