"""The pull-request comment of infra-plan.yml: per stack, what `terraform plan` would do.

    python -m tools.plan_summary PLAN_DIR [--cost cost.md] > comment.md

PLAN_DIR holds, per stack, ``<stack>.json`` (``terraform show -json`` of the saved plan),
``<stack>.txt`` (the plan's text) and ``<stack>.exit`` (plan's ``-detailed-exitcode``: 0 no
changes, 2 changes, 1 error). The comment starts with a marker so the workflow updates one comment
instead of adding one per push.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MARKER = "<!-- homu-infra-plan -->"
# GitHub rejects comments over 65,536 characters; plans are folded and trimmed to fit.
MAX_PLAN_CHARS = 20_000


def counts(plan: dict) -> dict[str, int]:
    """Adds, changes and destroys as Terraform counts them (a replacement is one add and one destroy)."""
    tally = {"add": 0, "change": 0, "destroy": 0}
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if "create" in actions:
            tally["add"] += 1
        if "delete" in actions:
            tally["destroy"] += 1
        if actions == ["update"]:
            tally["change"] += 1
    return tally


def stack_section(plan_dir: Path, stack: str) -> tuple[str, str]:
    """(table row, folded details) for one stack."""
    exit_code = int((plan_dir / f"{stack}.exit").read_text().strip())
    text = (plan_dir / f"{stack}.txt").read_text() if (plan_dir / f"{stack}.txt").exists() else ""
    if len(text) > MAX_PLAN_CHARS:
        text = text[:MAX_PLAN_CHARS] + f"\n... ({len(text) - MAX_PLAN_CHARS} more characters in the job log)"
    if exit_code == 1:
        row = f"| `{stack}` | **plan failed** | | | |"
    else:
        tally = counts(json.loads((plan_dir / f"{stack}.json").read_text()))
        status = "no changes" if exit_code == 0 else "changes"
        row = f"| `{stack}` | {status} | {tally['add']} | {tally['change']} | {tally['destroy']} |"
    details = (
        f"<details><summary><code>{stack}</code> plan</summary>\n\n```\n{text.rstrip()}\n```\n\n</details>"
    )
    return row, details


def comment(plan_dir: Path, cost: str | None = None) -> str:
    stacks = sorted(p.stem for p in plan_dir.glob("*.exit"))
    if not stacks:
        raise SystemExit(f"plan_summary: no <stack>.exit files in {plan_dir}")
    rows, folds = zip(*(stack_section(plan_dir, s) for s in stacks))
    parts = [
        MARKER,
        "### Terraform plan",
        "| stack | result | add | change | destroy |",
        "|---|---|---|---|---|",
        *rows,
        "",
        *folds,
    ]
    if cost:
        parts += ["", "### Monthly cost", cost.strip()]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan_summary", description=__doc__.splitlines()[0])
    parser.add_argument("plan_dir", type=Path)
    parser.add_argument(
        "--cost", type=Path, help="a markdown cost table to append (`python -m tools.cost --format markdown`)"
    )
    args = parser.parse_args(argv)
    sys.stdout.write(comment(args.plan_dir, args.cost.read_text() if args.cost else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
