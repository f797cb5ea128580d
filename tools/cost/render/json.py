"""The JSON report and comparison, for other programs."""

from __future__ import annotations

import json

from tools.cost.compare import StackDelta
from tools.cost.model import StackCost
from tools.cost.options import price_options


def render_json(reports: list[StackCost], assume: dict[str, float]) -> str:
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
            },
            indent=2,
        )
        + "\n"
    )


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
