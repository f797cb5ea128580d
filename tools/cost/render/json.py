"""The JSON report and comparison, for other programs."""

from __future__ import annotations

import json
from typing import Any

from tools.cost.commitments import COVERAGE, PAYMENT, TERMS, OptionCommitments
from tools.cost.compare import StackDelta
from tools.cost.model import StackCost
from tools.cost.options import price_options


def render_json(
    reports: list[StackCost], assume: dict[str, float], commitments: list[OptionCommitments] | None = None
) -> str:
    totalled, untotalled = price_options(reports)
    return (
        json.dumps(
            {
                "assumptions": assume,
                "stacks": [
                    {
                        "name": r.name,
                        "region": r.region,
                        "total": round(r.total, 2),
                        "lines": [
                            {
                                "address": ln.address,
                                "item": ln.item,
                                "quantity": ln.quantity,
                                "unit": ln.unit,
                                "unit_price": ln.unit_price,
                                "price_key": ln.price_key,
                                "confirmed": ln.confirmed,
                                "monthly": round(ln.monthly, 4),
                            }
                            for ln in r.lines
                        ],
                        "unpriced": [
                            {"address": u.address, "type": u.type, "reason": u.reason} for u in r.unpriced
                        ],
                        "free": r.free,
                        "notes": r.notes,
                    }
                    for r in reports
                ],
                "options": [
                    {
                        "name": o.option.label,
                        "stacks": list(o.option.stacks),
                        "total": round(o.total, 2),
                        "guide": o.option.guide,
                        "unpriced": o.unpriced,
                    }
                    for o in totalled
                ],
                "untotalled": [{"options": u.labels, "reason": u.reason} for u in untotalled],
                **({} if commitments is None else {"commitments": _commitments(commitments)}),
            },
            indent=2,
        )
        + "\n"
    )


def _commitments(commitments: list[OptionCommitments]) -> dict[str, Any]:
    # A line without a committed price has unit_price null; its monthly is the on-demand amount.
    return {
        "payment": PAYMENT,
        "coverage": COVERAGE,
        "terms": TERMS,
        "options": [
            {
                "name": o.option.option.label,
                "on_demand": round(o.on_demand, 2),
                "totals": {term: round(o.total(term), 2) for term in TERMS},
                "without_commitment_price": {term: o.without_price(term) for term in TERMS},
                "lines": [
                    {
                        "stack": c.stack,
                        "address": c.line.address,
                        "item": c.line.item,
                        "price_key": c.line.price_key,
                        "on_demand": round(c.line.monthly, 4),
                        **{
                            term: {
                                "price_key": c.terms[term].price_key,
                                "unit_price": c.terms[term].unit_price,
                                "confirmed": c.terms[term].confirmed,
                                "monthly": round(c.monthly(term), 4),
                            }
                            for term in TERMS
                        },
                    }
                    for c in o.lines
                ],
            }
            for o in commitments
        ],
    }


def render_compare_json(deltas: list[StackDelta]) -> str:
    return (
        json.dumps(
            [
                {
                    "stack": d.name,
                    "old": round(d.old_total, 2),
                    "new": round(d.new_total, 2),
                    "delta": round(d.delta, 2),
                    "changed": [
                        {
                            "address": c.address,
                            "item": c.item,
                            "old_item": c.old_item,
                            "old": round(c.old, 4),
                            "new": round(c.new, 4),
                        }
                        for c in d.changed
                    ],
                }
                for d in deltas
            ],
            indent=2,
        )
        + "\n"
    )
