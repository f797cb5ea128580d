"""Monthly cost of the synthesized stacks, from their Terraform JSON and ``pricing/prices.json``.

    python -m tools.cost [DIR ...]              # default: every stack under cdktf.out/stacks
    python -m tools.cost --format markdown      # a table a CI job can post on a pull request
    python -m tools.cost --compare OLD_DIR      # how a change moves each stack's monthly cost
    python -m tools.cost --strict               # exit 1 when a resource type has no price
    python -m tools.cost --commitments          # the options with 1- and 3-year reservations/Savings Plans

A DIR is a stack directory (it holds ``cdk.tf.json``), a ``stacks`` directory, or a cdktf output
directory (it holds ``stacks/``). Only JSON is read: no cdktf import, no AWS call. A value a stack
reads from another stack's state (the ALB's subnets) is looked up in that stack's JSON beside it.

Each stack is totalled on its own; the guide's options (``tools.cost.options``: data tier + compute,
and both computes side by side) are totalled and compared with the guide's estimates when all of
their stacks were given.

Every resource type in a stack is either priced (``tools.cost.pricers``), or in ``FREE`` (costs
nothing by itself), or reported as *unpriced* and counted: nothing is dropped silently. Usage-driven
charges (LCUs, NAT data, log volume, ...) use the stated ``ASSUMPTIONS``; ``--assume key=value``
changes one.

Exit codes: 0 priced, 1 unpriced resources with ``--strict``, 2 bad input (no stacks, unknown region).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from tools.cost.assumptions import parse_assumptions
from tools.cost.commitments import price_commitments
from tools.cost.compare import compare
from tools.cost.estimate import price_dirs
from tools.cost.model import CostError
from tools.cost.prices import DEFAULT_PRICES, ROOT, load_prices
from tools.cost.render import (
    render_compare_json,
    render_compare_markdown,
    render_compare_text,
    render_json,
    render_markdown,
    render_text,
)

DEFAULT_STACKS = Path("cdktf.out") / "stacks"


def default_dirs() -> list[Path]:
    for candidate in (DEFAULT_STACKS, ROOT / DEFAULT_STACKS):
        if candidate.is_dir():
            return [candidate]
    raise CostError(f"{DEFAULT_STACKS} does not exist: synthesize first (`make synth`)")


def main(argv: list[str] | None = None, stdout: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m tools.cost",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="stack dir, stacks dir or cdktf output dir (default: cdktf.out/stacks)",
    )
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="OLD_DIR",
        help="price OLD_DIR too and show how each stack's monthly cost moves",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when any resource is unpriced")
    parser.add_argument(
        "--commitments",
        action="store_true",
        help="also total each option with 1- and 3-year reserved instances and a Compute Savings Plan",
    )
    parser.add_argument(
        "--prices", type=Path, default=DEFAULT_PRICES, help="prices file (default: %(default)s)"
    )
    parser.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="KEY=NUMBER",
        help="change a usage assumption; see the report's list",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list the free resource types")
    args = parser.parse_args(argv)
    if args.commitments and args.compare:
        parser.error("--commitments prices one configuration; it does not combine with --compare")
    try:
        assume = parse_assumptions(args.assume)
        prices = load_prices(args.prices)
        reports = price_dirs(args.dirs or default_dirs(), prices, assume)
        old = price_dirs([args.compare], prices, assume) if args.compare else None
        commitments = price_commitments(reports, prices) if args.commitments else None
    except CostError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if old is not None:
        deltas = compare(old, reports)
        if args.format == "markdown":
            stdout.write(render_compare_markdown(deltas))
        elif args.format == "json":
            stdout.write(render_compare_json(deltas))
        else:
            stdout.write(render_compare_text(deltas))
    elif args.format == "markdown":
        stdout.write(render_markdown(reports, assume, commitments))
    elif args.format == "json":
        stdout.write(render_json(reports, assume, commitments))
    else:
        stdout.write(render_text(reports, assume, args.verbose, commitments))
    unpriced = [u for r in reports + (old or []) for u in r.unpriced]
    if unpriced:
        print(
            f"{'error' if args.strict else 'warning'}: {len(unpriced)} unpriced resource(s): "
            + ", ".join(sorted({u.type for u in unpriced})),
            file=sys.stderr,
        )
        if args.strict:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
