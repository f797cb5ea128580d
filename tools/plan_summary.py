"""The pull-request comment of plan.yml: per environment and stack, what `terraform plan` would do,
then the review.

    python -m tools.plan_summary PLANS [--review REVIEW_MD] > comment.md

PLANS holds one directory per environment (as ``python -m tools.ci plan`` writes them), each with, per
stack, ``<stack>.json`` (``terraform show -json`` of the saved plan), ``<stack>.txt`` (the plan's
text) and ``<stack>.exit`` (plan's ``-detailed-exitcode``: 0 no changes, 2 changes, 1 error), or
``refused.txt`` when the allowlist refused that environment's synthesis. The comment starts with a
marker so the workflow updates one comment instead of adding one per push. REVIEW_MD is the report
``python -m tools.review`` wrote in the pull request's own run: a pull request's text, so it is cut to
its share of the comment, comes after the plans and never supplies the marker. Standard library only: the comment job runs
it on a bare Python.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

MARKER = "<!-- homu-infra-plan -->"
REFUSED = "refused.txt"
# GitHub rejects comments over 65,536 characters; plans are folded and trimmed to fit.
MAX_PLAN_CHARS = 20_000
MAX_REVIEW_CHARS = 40_000
REVIEW_SOURCE = (
    "_Written by the pull request's own code (`python -m tools.review` in infra-plan's unprivileged "
    "`review` job): a reviewer's aid; the plans above are the base branch's._"
)
MAX_COMMENT_CHARS = 65_000


def fenced(text: str) -> str:
    """``text`` in a code block it cannot close: the plan and the refusals quote values a pull request
    chose, and a run of backticks in them would otherwise end the block and write the comment."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


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
        f"<details><summary><code>{stack}</code> plan</summary>\n\n{fenced(text.rstrip())}\n\n</details>"
    )
    return row, details


def environment_section(plan_dir: Path) -> list[str]:
    """The lines of one environment: why it was refused, or a table of its stacks and their plans."""
    title = f"#### `{plan_dir.name}`"
    if (plan_dir / REFUSED).exists():
        reasons = (plan_dir / REFUSED).read_text().rstrip()
        return [title, "**Not planned**: the allowlist refused this synthesis:", fenced(reasons)]
    stacks = sorted(p.stem for p in plan_dir.glob("*.exit"))
    if not stacks:
        return [title, "**Not planned**: no plan was written (see the job log)."]
    rows, folds = zip(*(stack_section(plan_dir, s) for s in stacks))
    return [title, "| stack | result | add | change | destroy |", "|---|---|---|---|---|", *rows, "", *folds]


def review_section(review: Path, room: int) -> list[str]:
    """The review, last and labelled as the pull request's own output: it can add text, but nothing
    it writes (a fake plan, an unclosed fence) can hide or stand in for the plans above it."""
    title = ["### Review", "", REVIEW_SOURCE, ""]
    if not review.is_file():
        return [*title, "The review job wrote no review for this run (see its log)."]
    limit = max(0, min(MAX_REVIEW_CHARS, room))
    with review.open(errors="replace") as handle:  # never more than its share, however large the file
        text = handle.read(limit + 1)
    if len(text) > limit:
        text = text[:limit] + "\n\n… (cut: the whole review is the run's `review` artifact)"
    return [*title, text.rstrip()]


def comment(plans: Path, review: Path | None = None) -> str:
    environments = sorted(p for p in plans.iterdir() if p.is_dir()) if plans.is_dir() else []
    if not environments and review is None:
        raise SystemExit(f"plan_summary: no environment directories in {plans}")
    parts = [MARKER, "### Terraform plan"]
    if not environments:
        parts += [
            "",
            "Not planned in this run: plans run for this repository's branches once the tests pass.",
        ]
    for directory in environments:
        parts += ["", *environment_section(directory)]
    body = "\n".join(parts) + "\n"
    if len(body) > MAX_COMMENT_CHARS:
        body = (
            body[:MAX_COMMENT_CHARS] + "\n\n… (cut to GitHub's comment limit: the plans are in the job log)\n"
        )
    if review is not None:
        room = MAX_COMMENT_CHARS - len(body) - len(REVIEW_SOURCE) - 200
        body += "\n" + "\n".join(review_section(review, room)) + "\n"
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan_summary", description=__doc__.splitlines()[0])
    parser.add_argument("plans", type=Path, help="one directory of plans per environment")
    parser.add_argument("--review", type=Path, help="the review report to put first (tools.review)")
    args = parser.parse_args(argv)
    sys.stdout.write(comment(args.plans, args.review))
    return 0


if __name__ == "__main__":
    sys.exit(main())
