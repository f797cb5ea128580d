"""Review a change before it is planned: what it adds, changes, replaces and destroys, what it costs,
what the policy scan says about it, and the design drawn.

    python -m tools.review                 # the working tree against its merge base with main
    python -m tools.review main            # ... against main (any commit, branch or tag)
    python -m tools.review --output review.md --config default --config prod

The base is synthesized in a temporary git worktree and the head as it is (uncommitted changes
included), both with no credential in the environment; nothing in the user's tree is written. Every
configuration is reviewed (the defaults, ``default``, and each ``environments/*.json``), and printed as
one Markdown report. No AWS call is made: replacements are known from ``tools.review.forces``, costs
from ``tools.cost``, findings from ``tools.scan``.

Exit codes: 0 reviewed, 1 the review could not be made (the message says why), 2 bad arguments,
130 interrupted (Ctrl-C, SIGTERM or SIGHUP), with the temporary worktree removed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from tools.interrupt import terminate
from tools.review.report import DEFAULT_BUDGET, render
from tools.review.review import Review, review_configuration
from tools.review.synth import (
    ReviewError,
    Side,
    base_worktree,
    configurations,
    default_base,
    git,
    head_label,
    synthesize_sides,
)

ROOT = Path(__file__).resolve().parents[2]
POLICIES = "policies"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.review",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "base", nargs="?", help="the commit to compare with (default: the merge base with main)"
    )
    parser.add_argument("--output", type=Path, help="write the report here instead of standard output")
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME",
        help="review only this configuration: default, or an environments/NAME.json (repeatable)",
    )
    parser.add_argument("--no-scan", action="store_true", help="leave out the policy scan (faster)")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_BUDGET,
        help="cut the report to this many characters (default: %(default)s; a GitHub comment holds 65,536)",
    )
    return parser


def review(root: Path, base: str, names: list[str] | None, *, scan: bool, workdir: Path) -> Review:
    head = Side(head_label(root), root)
    with base_worktree(root, base) as base_side:
        known = set(configurations(head.tree)) | set(configurations(base_side.tree))
        unknown = sorted(set(names or []) - known)
        if unknown:
            raise ReviewError(
                f"--config {', '.join(unknown)}: no such configuration; allowed: {', '.join(sorted(known))}"
            )
        sides = synthesize_sides(base_side, head, names, workdir)
        # The policies are code the scan loads: when they change, every stack may find differently.
        policies_changed = bool(git(root, "diff", "--name-only", base_side.commit, "--", POLICIES))
    reviews = []
    for name, (old, new) in sides.items():
        if new.outdir is None:
            if new.error:
                raise ReviewError(f"the head does not synthesize configuration {name}:\n{new.error}")
            continue  # removed by the change: nothing to deploy any more
        missing = old.error and f"the base does not synthesize ({old.error.splitlines()[-1]})"
        if old.outdir is None and not old.error:
            missing = f"the base has no environments/{name}.json"
        reviews.append(
            review_configuration(
                name,
                old.outdir,
                new.outdir,
                scan=scan,
                policies_changed=policies_changed,
                base_missing=missing,
            )
        )
    return Review(base_side.label, head.label, reviews)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.max_chars < 2_000:
        print(f"error: --max-chars {args.max_chars}: allowed: 2000 or more", file=sys.stderr)
        return 2
    # A runner's SIGTERM and a closed terminal's SIGHUP remove the worktree as Ctrl-C does.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, terminate)
    try:
        base = args.base or default_base(ROOT)
        with tempfile.TemporaryDirectory(prefix="homu-review-") as tmp:
            result = review(ROOT, base, args.config, scan=not args.no_scan, workdir=Path(tmp))
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # The worktree and the syntheses were temporary and are gone; the user's tree was never written.
        print("review: interrupted; nothing was written", file=sys.stderr)
        return 130
    text = render(result, args.max_chars)
    if args.output:
        # Written beside and renamed over it: an interrupted write leaves no half-written report.
        partial = args.output.with_name(f".{args.output.name}.partial")
        partial.write_text(text)
        partial.replace(args.output)
        print(f"review: wrote {args.output} ({len(text):,} characters)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
