"""Cells the text and markdown reports share: amounts, quantities, unit prices, the guide's range."""

from __future__ import annotations

from tools.cost.model import Line, StackCost
from tools.cost.options import OptionCost


def money(value: float) -> str:
    return f"{value:,.2f}"


def signed(value: float) -> str:
    return ("+" if value >= 0.005 else "-" if value <= -0.005 else "±") + money(abs(value))


def unit_price(line: Line) -> str:
    text = f"{line.unit_price:.7f}".rstrip("0").rstrip(".")
    return f"{text}/{line.unit}" + ("" if line.confirmed else " *")


def quantity(line: Line) -> str:
    text = f"{line.quantity:,.2f}".rstrip("0").rstrip(".") if line.quantity % 1 else f"{line.quantity:,.0f}"
    return f"{text} {line.unit}"


def guide_range(guide: tuple[float, float] | None) -> str:
    return f"${guide[0]:g}-{guide[1]:g}" if guide else "none"


def guide_verdict(total: float, guide: tuple[float, float]) -> str:
    low, high = guide
    if total > high:
        return f"${money(total - high)} above it"
    return f"${money(low - total)} below it" if total < low else "within it"


def guide_text(option: OptionCost) -> str:
    guide = option.option.guide
    if guide is None:
        return "guide estimate: none"
    return f"guide estimate: {guide_range(guide)}/month ({guide_verdict(option.total, guide)})"


def table_rows(report: StackCost) -> list[tuple[str, str, str, str, str]]:
    return [
        (line.address, line.item, quantity(line), unit_price(line), money(line.monthly))
        for line in sorted(report.lines, key=lambda ln: (-ln.monthly, ln.address, ln.item))
    ]
