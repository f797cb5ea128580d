"""Compare each deployed stack with the account, read-only, and say what changed outside Terraform.

    python -m tools.drift [STACK ...] [--json] [--report FILE]

Reads the settings as the stacks do (``HOMU_SETTINGS_FILE``, ``HOMU_*``), synthesizes them, and runs
``terraform plan -lock=false`` (refresh, no lock, nothing written) per deployed stack. Drift is what
the account changed since the last deploy; a pending change is what the code changed and nobody
deployed yet. Exit 0: no drift (pending changes may be listed); 2: drift; 1: an error (a stack that
could not be planned, AWS denied a read, a named stack never deployed); 130: interrupted.
``python3 -m tools.drift.github REPORT`` keeps one GitHub issue per drifted stack (docs/operating.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from modules.names import REMOTE_STATE_STACKS
from modules.settings import raw_settings
from tools import account_tool


def _check(args: argparse.Namespace) -> int:
    from tools.drift.drift import check, exit_code
    from tools.drift.report import text
    from tools.readonly_plan import PlanFailed

    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    try:
        reports = check(raw_settings(Path("cdktf.json"), dict(os.environ)), tuple(args.stacks), say)
    except PlanFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    code = exit_code(reports)
    document = json.dumps({"exit": code, "stacks": [r.to_json() for r in reports]}, indent=2)
    if args.report:
        args.report.write_text(document + "\n")
    print(document if args.json else "\n".join(text(reports)))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drift", description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", metavar="STACK", help=f"of {', '.join(REMOTE_STATE_STACKS)}")
    parser.add_argument("--json", action="store_true", help="the findings as JSON on stdout")
    parser.add_argument(
        "--report", type=Path, help="also write the JSON to this file (for tools.drift.github)"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.stacks if s not in REMOTE_STATE_STACKS]
    if unknown:
        print(f"error: STACK {unknown[0]!r} is not one of {', '.join(REMOTE_STATE_STACKS)}", file=sys.stderr)
        return 1
    return account_tool.run(
        lambda: _check(args),
        tool="drift",
        make_target="drift",
        interrupted="nothing was written",
        bad_settings=1,  # drift's contract: 1 is any error
    )


if __name__ == "__main__":
    sys.exit(main())
