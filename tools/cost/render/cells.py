"""Cells the text and markdown reports share: amounts, quantities, unit prices, the guide's range."""

from __future__ import annotations

from tools.cost.model import Line, StackCost


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


def guide_text(report: StackCost) -> str:
    if report.guide is None:
        return "guide estimate: none for this stack"
    low, high = report.guide
    total = report.total
    where = (
        "within it"
        if low <= total <= high
        else f"${money(total - high)} above it"
        if total > high
        else f"${money(low - total)} below it"
    )
    return f"guide estimate: ${low:g}-{high:g}/month ({where})"


def table_rows(report: StackCost) -> list[tuple[str, str, str, str, str]]:
    return [
        (line.address, line.item, quantity(line), unit_price(line), money(line.monthly))
        for line in sorted(report.lines, key=lambda ln: (-ln.monthly, ln.address, ln.item))
    ]
