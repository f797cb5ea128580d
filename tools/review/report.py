"""The review as Markdown: a headline per configuration, destroys of data first and loud, then per
configuration the resource table, the cost, the policy findings and the design drawn.

Everything quoted from the synthesized JSON is a pull request's own text, so it is escaped into table
cells and code spans that it cannot close. The report is cut to a size budget (a GitHub comment holds
65,536 characters, and the real plans share the comment): first the diagrams of all but the first
changed configuration go, then rows beyond a limit, each cut said in the report.
"""

from __future__ import annotations

import json
from typing import Any

from tools.cost.render import cells
from tools.markdown import cell, code
from tools.review.changes import MISSING, Action, ResourceChange
from tools.review.review import ConfigurationReview, OptionTotal, Review

DEFAULT_BUDGET = 40_000
_VALUE_CHARS = 60
_CREATED_SHOWN = 6
_ITEMS_SHOWN = 8
# Row limits tried in turn until the report fits the budget.
_ROW_LIMITS = (None, 60, 25, 10)


def money(value: float | None) -> str:
    """Dollars as the cost tool writes them; "—" where an option is not complete on that side."""
    return "—" if value is None else f"${cells.money(value)}"


def signed(value: float) -> str:
    """A delta with its sign before the dollar sign; a change under half a cent is $0.00."""
    if abs(value) < 0.005:
        return "$0.00"
    return f"{'+' if value > 0 else '−'}{money(abs(value))}"


def value(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return code(text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…")


def item_text(item: Any) -> str:
    """A list item; a block as its ``key=value`` pairs, which fit the cell better than JSON."""
    if not isinstance(item, dict):
        return value(item)
    pairs = " ".join(f"{k}={v}" for k, v in sorted(item.items()) if isinstance(v, str | int | float | bool))
    return code(pairs if len(pairs) <= 2 * _VALUE_CHARS else pairs[: 2 * _VALUE_CHARS - 1] + "…")


def change_text(before: Any, after: Any) -> str:
    """Before -> after; for a list only the items it gains and loses, for a map only the keys that
    differ, so a long rule list with one new rule says which."""
    if isinstance(before, list) and isinstance(after, list):
        moved = [f"+ {item_text(item)}" for item in after if item not in before]
        moved += [f"− {item_text(item)}" for item in before if item not in after]
        more = f"; {len(moved) - _ITEMS_SHOWN} more" if len(moved) > _ITEMS_SHOWN else ""
        return "; ".join(moved[:_ITEMS_SHOWN]) + more if moved else "reordered"
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(k for k in {*before, *after} if before.get(k, MISSING) != after.get(k, MISSING))
        return "; ".join(
            f"{code(k)}: {change_text(before.get(k, MISSING), after.get(k, MISSING))}" for k in keys
        )
    return f"{value(before)} → {value(after)}"


def counts(changes: list[ResourceChange]) -> str:
    tally = {action: 0 for action in Action}
    for change in changes:
        tally[change.action] += 1
    words = [
        f"{tally[Action.CREATE]} to add",
        f"{tally[Action.UPDATE]} to change",
        f"{tally[Action.REPLACE]} to replace",
        f"{tally[Action.DELETE]} to destroy",
    ]
    words += [f"{tally[a]} to {a.value}" for a in (Action.IMPORT, Action.MOVE) if tally[a]]
    return ", ".join(words)


def _created(change: ResourceChange) -> str:
    """A new resource's literal settings, the first few: enough to see a 0.0.0.0/0 or a port."""
    literals = [
        a
        for a in change.attributes
        if isinstance(a.after, str | int | float | bool) and "${" not in str(a.after)
    ]
    shown = ", ".join(f"{code(a.name)} = {value(a.after)}" for a in literals[:_CREATED_SHOWN])
    return shown + (", …" if len(literals) > _CREATED_SHOWN else "")


def _what(change: ResourceChange) -> str:
    if change.action in (Action.CREATE, Action.IMPORT):
        return _created(change)
    parts = []
    for attribute in change.attributes:
        note = " **forces replacement**" if attribute.name in change.forcing else ""
        note += " (may force replacement)" if attribute.name in change.maybe_forcing else ""
        parts.append(f"{code(attribute.name)}{note}: {change_text(attribute.before, attribute.after)}")
    if change.causes:
        forced = (
            f" ({', '.join(code(f) for f in change.forcing)} forces replacement)" if change.forcing else ""
        )
        parts.append("reads " + ", ".join(code(c) for c in change.causes) + ", which changes" + forced)
    if change.moved_from:
        parts.insert(0, f"moved from {code(change.moved_from)}")
    if change.replacement_unknown and change.action is Action.UPDATE:
        parts.append("whether this replaces is not known for this type: read the plan")
    return "<br>".join(parts)


def _action(change: ResourceChange) -> str:
    text = change.action.value
    return f"**{text.upper()}**" if change.loud else text


def resource_rows(changes: list[ResourceChange], limit: int | None) -> list[str]:
    out = ["| action | stack | resource | name | what changes |", "|---|---|---|---|---|"]
    shown = changes if limit is None else changes[:limit]
    out += [
        f"| {_action(c)} | {cell(c.stack)} | {code(c.address)} | {cell(c.label)} | {_what(c)} |"
        for c in shown
    ]
    if len(shown) < len(changes):
        out.append(
            f"| … | | {len(changes) - len(shown)} more | | in the full report (`--output`, the CI artifact) |"
        )
    return out


def caution(reviews: list[ConfigurationReview]) -> list[str]:
    loud = [(r.name, c) for r in reviews for c in r.changes if c.loud]
    if not loud:
        return []
    out = ["> [!CAUTION]", "> **Data at risk:** this change destroys or replaces resources that hold data."]
    for name, change in loud:
        why = f": {', '.join(code(f) for f in change.forcing)} forces a new one" if change.forcing else ""
        out.append(
            f"> - {code(name)} {cell(change.stack)}: {change.action.value} {code(change.address)} ({cell(change.label)}){why}"
        )
    return [*out, ""]


def option_rows(totals: list[OptionTotal]) -> list[str]:
    out = ["| option | base monthly | head monthly | delta |", "|---|---:|---:|---:|"]
    out += [f"| {t.label} | {money(t.base)} | {money(t.head)} | **{signed(t.delta)}** |" for t in totals]
    return out


def cost_rows(review: ConfigurationReview, limit: int | None) -> list[str]:
    lines = [(delta.name, change) for delta in review.cost_lines for change in delta.changed]
    if not lines:
        return []
    shown = lines if limit is None else lines[:limit]
    out = ["", "| stack | resource | item | base | head | delta |", "|---|---|---|---:|---:|---:|"]
    out += [
        f"| {cell(stack)} | {code(c.address)} | {cell(c.label)} | {money(c.old)} | {money(c.new)} | {signed(c.delta)} |"
        for stack, c in shown
    ]
    if len(shown) < len(lines):
        out.append(f"| … | {len(lines) - len(shown)} more lines | | | | |")
    return out


def finding_rows(review: ConfigurationReview) -> list[str]:
    delta = review.findings
    if delta is None:
        return ["Not scanned (`--no-scan`)."]
    if not delta:
        scanned = ", ".join(delta.scanned) or "no stack changed"
        return [f"No finding new or fixed (scanned: {scanned})."]
    out = []
    for title, results in (
        ("New in the head", delta.new),
        ("Fixed by the head", delta.fixed),
        ("Exceptions added (a failure excused with a reason)", delta.new_exceptions),
        ("Exceptions removed", delta.dropped_exceptions),
    ):
        if results:
            out += [f"**{title}:**", ""]
            out += [
                f"- {cell(r.stack)} {code(r.check_id)} on {code(r.resource)}: {cell(r.name)}"
                + (f" — reason: {cell(r.reason)}" if r.reason else "")
                for r in results
            ]
            out.append("")
    return out


def headline(review: ConfigurationReview) -> str:
    if review.base_missing:
        prefix = f"new here ({cell(review.base_missing)}): "
    else:
        prefix = ""
    if not review.changed:
        return f"- {code(review.name)}: no change"
    costs = "; ".join(f"{t.label} {signed(t.delta)}" for t in review.option_totals)
    found = review.findings
    policy = (
        f"; {len(found.new)} new and {len(found.fixed)} fixed policy findings" if found is not None else ""
    )
    return f"- {code(review.name)}: {prefix}{counts(review.changes)}; monthly {costs or 'no option priced'}{policy}"


def configuration_section(review: ConfigurationReview, limit: int | None, diagrams: bool) -> list[str]:
    out = ["", f"### {code(review.name)}", ""]
    if review.base_missing:
        out += [f"The base has nothing to compare: {cell(review.base_missing)}. Every resource is new.", ""]
    out += resource_rows(review.changes, limit) if review.changes else ["No resource changes."]
    out += ["", "**Monthly cost** (the project's cost tool, `python -m tools.cost`)", ""]
    out += option_rows(review.option_totals) + cost_rows(review, limit)
    out += ["", "**Policy findings** (`python -m tools.scan` on both sides)", ""]
    out += finding_rows(review)
    if review.diagrams:
        out += ["", "**Design** (added in green, removed in red and dashed)", ""]
        if diagrams:
            for label, source in review.diagrams.items():
                out += [f"{label}:", "", "```mermaid", source, "```", ""]
        else:
            out.append(f"{len(review.diagrams)} diagram(s) left out to fit: in the full report.")
    return out


def render(review: Review, budget: int = DEFAULT_BUDGET) -> str:
    changed = [c for c in review.configurations if c.changed]
    head = [
        "## Infrastructure review",
        "",
        f"{review.base_label} → {review.head_label}, every configuration synthesized on both sides.",
        "",
        *caution(changed),
        *(headline(c) for c in review.configurations),
    ]
    attempt = ""
    for limit in _ROW_LIMITS:
        for all_diagrams in (True, False):
            body = list(head)
            for index, configuration in enumerate(changed):
                section = configuration_section(configuration, limit, all_diagrams or index == 0)
                if index:  # the first changed configuration open, the others folded
                    summary = f"<code>{cell(configuration.name)}</code> in full"
                    section = ["", f"<details><summary>{summary}</summary>", *section, "", "</details>"]
                body += section
            attempt = "\n".join(body) + "\n"
            if len(attempt) <= budget:
                return attempt
    cut = attempt[: budget - 200]
    # Close what the cut leaves open, so the note after it is not swallowed by a fence or a fold.
    closing = ("\n```" if cut.count("\n```") % 2 else "") + (
        "\n</details>" * (cut.count("<details>") - cut.count("</details>"))
    )
    return cut + closing + "\n\n… cut to fit the comment: the full report is the CI artifact.\n"
