"""The markdown report and comparison, for a pull-request comment and the docs/costs-*.md pages."""

from __future__ import annotations

from tools.cost.assumptions import assumption_lines
from tools.cost.commitments import COVERAGE, PAYMENT, TERMS, OptionCommitments
from tools.cost.compare import StackDelta
from tools.cost.model import StackCost
from tools.cost.options import price_options
from tools.cost.render.cells import (
    COMMITTED_NOTE,
    committed,
    committed_total,
    guide_range,
    guide_verdict,
    money,
    signed,
    table_rows,
)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(
    reports: list[StackCost], assume: dict[str, float], commitments: list[OptionCommitments] | None = None
) -> str:
    out = ["## Monthly cost estimate", ""]
    out.append("| stack | region | monthly USD | unpriced |")
    out.append("|---|---|---:|---:|")
    out.extend(f"| `{r.name}` | {r.region} | **{money(r.total)}** | {len(r.unpriced)} |" for r in reports)
    out.extend(_options(reports))
    for r in reports:
        out += ["", f"### `{r.name}`: ${money(r.total)}/month", ""]
        out.append("| resource | item | quantity | unit price USD | monthly USD |")
        out.append("|---|---|---:|---:|---:|")
        out.extend(
            "| " + " | ".join(_md(c) if i else f"`{c}`" for i, c in enumerate(row)) + " |"
            for row in table_rows(r)
        )
        out.append(f"| **total** | | | | **{money(r.total)}** |")
        if r.unpriced:
            out += ["", f"**Unpriced ({len(r.unpriced)}), not in the total:**", ""]
            out.extend(f"- `{u.address}`: {_md(u.reason)}" for u in r.unpriced)
        if r.notes:
            out += ["", "<details><summary>notes</summary>", ""]
            out.extend(f"- {_md(n)}" for n in r.notes)
            out += ["", "</details>"]
    if commitments is not None:
        out.extend(_commitments(commitments))
    out += ["", "<details><summary>assumptions</summary>", ""]
    out.extend(f"- {_md(line)}" for line in assumption_lines(assume))
    out += ["", "</details>", ""]
    return "\n".join(out)


def _options(reports: list[StackCost]) -> list[str]:
    # Part of the summary (before the first ###), which docs/costs.md quotes.
    totalled, untotalled = price_options(reports)
    out = []
    if totalled:
        out += [
            "",
            "| option | stacks | monthly USD | guide estimate | unpriced |",
            "|---|---|---:|---|---:|",
        ]
    for option in totalled:
        guide = option.option.guide
        verdict = f" ({guide_verdict(option.total, guide)})" if guide else ""
        stacks = " + ".join(f"`{name}`" for name in option.option.stacks)
        out.append(
            f"| {option.option.label} | {stacks} | **{money(option.total)}** | "
            f"{guide_range(guide)}{verdict} | {option.unpriced} |"
        )
    if untotalled:
        out.append("")
        out.extend(f"No total for {', '.join(u.labels)}: {u.reason}." for u in untotalled)
    return out


def _commitments(commitments: list[OptionCommitments]) -> list[str]:
    out = ["", "## Monthly cost with commitments", "", f"Payment: {PAYMENT}; {COVERAGE}.", ""]
    if not commitments:
        return [*out, "No option has a total, so none is shown with commitments."]
    terms = " | ".join(f"{label} USD" for label in TERMS.values())
    out += [f"| option | on-demand USD | {terms} |", "|---|---:|" + "---:|" * len(TERMS)]
    out.extend(
        f"| {o.option.option.label} | {money(o.on_demand)} | "
        + " | ".join(f"**{committed_total(o, term)}**" for term in TERMS)
        + " |"
        for o in commitments
    )
    for option in commitments:
        out += [
            "",
            f"### {option.option.option.label}: the lines commitments cover",
            "",
            f"| stack | resource | item | on-demand USD | {terms} |",
            "|---|---|---|---:|" + "---:|" * len(TERMS),
        ]
        out.extend(
            f"| `{c.stack}` | `{c.line.address}` | {_md(c.line.item)} | {money(c.line.monthly)} | "
            + " | ".join(committed(c, term) for term in TERMS)
            + " |"
            for c in sorted(option.lines, key=lambda c: (-c.line.monthly, c.stack, c.line.address))
        )
    return [*out, "", COMMITTED_NOTE]


def render_compare_markdown(deltas: list[StackDelta]) -> str:
    out = ["## Monthly cost change", "", "| stack | old USD | new USD | delta USD |", "|---|---:|---:|---:|"]
    for d in deltas:
        out.append(f"| `{d.name}` | {money(d.old_total)} | {money(d.new_total)} | **{signed(d.delta)}** |")
    total_old, total_new = sum(d.old_total for d in deltas), sum(d.new_total for d in deltas)
    out.append(f"| **all** | {money(total_old)} | {money(total_new)} | **{signed(total_new - total_old)}** |")
    for d in deltas:
        if not d.changed:
            continue
        out += [
            "",
            f"### `{d.name}`: lines that changed",
            "",
            "| resource | item | old USD | new USD | delta USD |",
            "|---|---|---:|---:|---:|",
        ]
        out.extend(
            f"| `{c.address}` | {_md(c.label)} | {money(c.old)} | {money(c.new)} | {signed(c.delta)} |"
            for c in d.changed
        )
    return "\n".join(out) + "\n"
