"""The cost tool's data: priced lines, unpriced resources, one stack's report, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CostError(Exception):
    """Bad input: missing stacks, a region without prices, a broken prices file."""


class Unpriced(Exception):
    """This resource (or part of it) has no price here; the message says why."""


@dataclass
class Line:
    address: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    price_key: str
    confirmed: bool = True

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass
class UnpricedResource:
    address: str
    type: str
    reason: str


@dataclass
class StackCost:
    name: str
    directory: Path
    region: str
    lines: list[Line] = field(default_factory=list)
    unpriced: list[UnpricedResource] = field(default_factory=list)
    free: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


def nested_block(value: Any) -> dict[str, Any]:
    """A nested block's body: Terraform JSON writes one as an object or as a list of one."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value or {}
