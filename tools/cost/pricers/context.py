"""What a pricer is given: the stack, its region's prices, the assumptions and the report it adds to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.cost.model import Line, StackCost
from tools.cost.prices import PriceTable
from tools.cost.remote import resolve
from tools.tfjson import Stack


@dataclass
class Context:
    stack: Stack
    prices: PriceTable
    assume: dict[str, float]
    report: StackCost

    @property
    def hours(self) -> float:
        return self.assume["hours_per_month"]

    def resolve(self, value: Any) -> Any:
        """``value``, or what it reads from another stack's outputs (``tools.cost.remote``)."""
        return resolve(self.stack, value)


# (context, resource name, resource body) -> the resource's priced lines; raises Unpriced.
Pricer = Callable[[Context, str, dict[str, Any]], list[Line]]
