"""Answer the deployment guide's troubleshooting list from the account, read-only.

    python -m tools.doctor [homu-fargate|homu-ec2 ...] [--json] [--no-bill]

Reads the settings as the stacks do (``HOMU_SETTINGS_FILE``, ``HOMU_*``), the stacks' outputs from their
state objects, then asks AWS (Describe/List/Get calls only) about each compute deployed, or the ones
named: the path from the app to the database and the cache, the tasks (option 1) or the host (option
2), and the bill (priced offline from the settings' synthesis, about 20 s; ``--no-bill`` skips it).
One line per check: ok, problem (with its fix under it) or could not check (and why).

Exit codes: 0 no problem (some checks may say could not check), 1 a problem was found, 2 the doctor
could not run (bad settings, no credentials, no state to read), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from modules.names import COMPUTE_STACKS
from modules.settings import raw_settings, validate
from tools import account_tool

NO_PROBLEM, PROBLEM_FOUND, COULD_NOT_RUN, INTERRUPTED = 0, 1, 2, 130


def _run(args: argparse.Namespace) -> int:
    from tools.doctor.aws import Aws, CallFailed
    from tools.doctor.bill import bill_checks, bill_unchecked
    from tools.doctor.doctor import diagnose
    from tools.doctor.render import render_json, render_text
    from tools.doctor.state import NotDeployed
    from tools.readonly_plan import SynthesisFailed, synthesis

    raw = raw_settings(Path("cdktf.json"), dict(os.environ))
    settings = validate(raw)

    def bill(computes: list[str]):
        if args.synthesized:
            return bill_checks(args.synthesized, settings, computes)
        try:
            with synthesis(raw, prefix="doctor") as outdir:
                return bill_checks(outdir, settings, computes)
        except SynthesisFailed as error:
            return bill_unchecked(computes, f"the synthesis failed: {str(error).splitlines()[-1]}")

    try:
        diagnosis = diagnose(Aws(settings), settings, args.stacks, None if args.no_bill else bill)
    except (NotDeployed, CallFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return COULD_NOT_RUN
    code = PROBLEM_FOUND if diagnosis.problems else NO_PROBLEM
    sys.stdout.write(render_json(diagnosis, code) if args.json else render_text(diagnosis))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.doctor", description=__doc__.splitlines()[0])
    parser.add_argument(
        "stacks",
        nargs="*",
        choices=[[], *COMPUTE_STACKS],
        metavar="STACK",
        help=f"{' or '.join(COMPUTE_STACKS)} (default: every one deployed)",
    )
    parser.add_argument("--json", action="store_true", help="the checks as JSON")
    parser.add_argument(
        "--no-bill", action="store_true", help="leave out the bill (its synthesis takes ~20 s)"
    )
    parser.add_argument(
        "--synthesized",
        type=Path,
        metavar="DIR",
        help="price this cdktf output (holding stacks/) instead of synthesizing the settings",
    )
    args = parser.parse_args(argv)
    args.stacks = list(dict.fromkeys(args.stacks))
    return account_tool.run(
        lambda: _run(args),
        tool="the doctor",
        make_target="doctor",
        interrupted="nothing was changed (the doctor only reads)",
        failed=COULD_NOT_RUN,
        bad_settings=COULD_NOT_RUN,
    )


if __name__ == "__main__":
    sys.exit(main())
