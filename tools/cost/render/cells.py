"""Cells the text and markdown reports share: amounts, quantities, unit prices, the guide's range,
committed amounts."""

from __future__ import annotations

from tools.cost.commitments import CoveredLine, OptionCommitments
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


def committed(line: CoveredLine, term: str) -> str:
    """A covered line's monthly amount under ``term``, marked like an unconfirmed unit price."""
    price = line.terms[term]
    if price.unit_price is None:
        return "no commitment price"
    return money(line.monthly(term)) + ("" if price.confirmed else " *")


def committed_amount(option: OptionCommitments, term: str) -> str:
    """The option's total under ``term``, marked when a committed price in it is unconfirmed."""
    return money(option.total(term)) + (" *" if option.unconfirmed(term) else "")


def committed_total(option: OptionCommitments, term: str) -> str:
    """The option's total under ``term``, what it saves, and how many covered lines lack a price."""
    missing = option.without_price(term)
    text = f"{committed_amount(option, term)} ({signed(option.total(term) - option.on_demand)}"
    return text + (f"; {missing} line(s) without a commitment price, at on-demand)" if missing else ")")


COMMITTED_NOTE = (
    "Amounts marked * use a committed price that is not confirmed against AWS for the region (status in "
    "pricing/prices.json); a line with no commitment price stays at on-demand in that total."
)
