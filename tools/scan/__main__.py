"""``python -m tools.scan``: the command line of the policy scan (see tools/scan/__init__.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.scan import junit, sarif, text
from tools.scan.runner import ROOT, scan_dockerfile, scan_plan, scan_stacks
from tools.tfjson import TerraformJsonError, find_stack_dirs

DEFAULT_STACKS = ROOT / "cdktf.out" / "stacks"
DEFAULT_DOCKERFILE = ROOT / "backend" / "Dockerfile"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.scan", description="checkov + project policies on synthesized stacks"
    )
    parser.add_argument(
        "stacks", nargs="*", type=Path, help="stack directories (default: cdktf.out/stacks/*)"
    )
    parser.add_argument(
        "--dockerfile",
        type=Path,
        action="append",
        help="Dockerfile to scan (default with no stack arguments: backend/Dockerfile)",
    )
    parser.add_argument(
        "--plan",
        type=Path,
        metavar="PLAN_JSON",
        help="scan this `terraform show -json` plan of the one stack directory given, with its exceptions",
    )
    parser.add_argument("--check", help="only these check ids, comma-separated (checkov --check)")
    parser.add_argument("--sarif", type=Path, help="also write the failures as SARIF 2.1.0")
    parser.add_argument("--junit", type=Path, help="also write every result as JUnit XML")
    args = parser.parse_args(argv)

    try:
        stack_dirs = args.stacks or find_stack_dirs([DEFAULT_STACKS])
    except TerraformJsonError:
        print(
            f"scan: nothing to scan: no stacks under {DEFAULT_STACKS} (run `make synth` first)",
            file=sys.stderr,
        )
        return 1
    for directory in stack_dirs:
        if not directory.is_dir():
            print(f"scan: {directory} is not a directory", file=sys.stderr)
            return 1
    dockerfiles = (
        args.dockerfile
        if args.dockerfile is not None
        else ([] if args.stacks or args.plan else [DEFAULT_DOCKERFILE])
    )

    selection = ["--check", args.check] if args.check else []
    if args.plan:
        if len(args.stacks) != 1 or args.dockerfile:
            print(
                "scan: --plan takes exactly one stack directory, the one the plan was made from, "
                "and no --dockerfile",
                file=sys.stderr,
            )
            return 2
        target, parse_errors = scan_plan(args.plan.resolve(), args.stacks[0].resolve(), selection)
        targets = [target]
    else:
        targets, parse_errors = scan_stacks([d.resolve() for d in stack_dirs], selection)
        targets += [scan_dockerfile(d.resolve(), selection) for d in dockerfiles]

    text.print_details(targets, parse_errors)
    if args.sarif:
        sarif.write(targets, args.sarif)
    if args.junit:
        junit.write(targets, args.junit)
    text.print_summary(targets, parse_errors)
    return 1 if any(t.failed for t in targets) or parse_errors else 0


if __name__ == "__main__":
    sys.exit(main())
