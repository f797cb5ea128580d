"""The plain-text report and comparison (the default format)."""

from __future__ import annotations

from tools.cost.assumptions import assumption_lines
from tools.cost.commitments import COVERAGE, PAYMENT, TERMS, OptionCommitments
from tools.cost.compare import StackDelta
from tools.cost.model import StackCost
from tools.cost.options import price_options
from tools.cost.render.cells import (
    COMMITTED_NOTE,
    committed,
    committed_amount,
    committed_total,
    guide_text,
    money,
    signed,
    table_rows,
)


def _table(
    header: tuple[str, ...], rows: list[tuple[str, ...]], footer: tuple[str, ...], left: int
) -> list[str]:
    """Aligned columns: the first ``left`` to the left, the amounts after them to the right."""
    widths = [max(len(row[i]) for row in (header, *rows, footer)) for i in range(len(header))]
    fmt = "  ".join(f"{{:{'<' if i < left else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*row).rstrip() for row in (header, *rows, footer)]


def render_text(
    reports: list[StackCost],
    assume: dict[str, float],
    verbose: bool = False,
    commitments: list[OptionCommitments] | None = None,
) -> str:
    out: list[str] = []
    header = ("resource", "item", "quantity", "unit price USD", "monthly USD")
    for report in reports:
        out.append(f"== {report.name} ({report.region}) {report.directory}")
        out += _table(header, table_rows(report), ("total", "", "", "", money(report.total)), 2)
        if report.unpriced:
            out.append(f"UNPRICED: {len(report.unpriced)} resource(s), not in the total:")
            out.extend(f"  {u.address}: {u.reason}" for u in report.unpriced)
        else:
            out.append("unpriced: 0 resources")
        free_count = sum(report.free.values())
        out.append(
            f"free: {free_count} resources of {len(report.free)} types"
            + (": " + ", ".join(f"{t} x{n}" for t, n in sorted(report.free.items())) if verbose else "")
        )
        out.extend(f"note: {note}" for note in report.notes)
        out.append("")
    out.extend(_options(reports))
    if commitments is not None:
        out.extend(_commitments(commitments))
    out.append("Assumptions (all stacks):")
    out.extend(f"- {line}" for line in assumption_lines(assume))
    return "\n".join(out) + "\n"


def _options(reports: list[StackCost]) -> list[str]:
    totalled, untotalled = price_options(reports)
    if not totalled and not untotalled:
        return []
    out = ["== options: the guide's estimates are for a whole option (data tier + compute)"]
    for option in totalled:
        unpriced = f"; {option.unpriced} unpriced resource(s) not in it" if option.unpriced else ""
        out.append(
            f"{option.option.label} = {' + '.join(option.option.stacks)}: {money(option.total)} USD/month; "
            f"{guide_text(option)}{unpriced}"
        )
    out.extend(f"no total for {', '.join(u.labels)}: {u.reason}" for u in untotalled)
    return [*out, ""]


def _commitments(commitments: list[OptionCommitments]) -> list[str]:
    out = [f"== commitments: {PAYMENT}", f"{COVERAGE}."]
    if not commitments:
        out.append("no option has a total (see above), so none is shown with commitments")
    header = ("stack", "resource", "item", "on-demand USD", *(f"{label} USD" for label in TERMS.values()))
    for option in commitments:
        terms = ", ".join(f"{label} {committed_total(option, term)}" for term, label in TERMS.items())
        out.append(f"{option.option.option.label}: on-demand {money(option.on_demand)}, {terms} USD/month")
        rows = [
            (c.stack, c.line.address, c.line.item, money(c.line.monthly), *(committed(c, t) for t in TERMS))
            for c in sorted(option.lines, key=lambda c: (-c.line.monthly, c.stack, c.line.address))
        ]
        footer = (
            "option total",
            "",
            "(every line, covered or not)",
            money(option.on_demand),
            *(committed_amount(option, t) for t in TERMS),
        )
        out += [f"  {row}" for row in _table(header, rows, footer, 3)]
    return [*out, COMMITTED_NOTE, ""]


def render_compare_text(deltas: list[StackDelta]) -> str:
    out = []
    for d in deltas:
        state = " (new stack)" if d.old is None else " (removed stack)" if d.new is None else ""
        out.append(
            f"== {d.name}{state}: {money(d.old_total)} -> {money(d.new_total)} USD/month ({signed(d.delta)})"
        )
        for c in d.changed:
            out.append(f"  {signed(c.delta):>10}  {c.address}  {c.label}: {money(c.old)} -> {money(c.new)}")
        if not d.changed:
            out.append("  no line changed")
    total_old, total_new = sum(d.old_total for d in deltas), sum(d.new_total for d in deltas)
    out.append(
        f"all stacks: {money(total_old)} -> {money(total_new)} USD/month ({signed(total_new - total_old)})"
    )
    return "\n".join(out) + "\n"
