"""Deploy rehearsal: every stack through init, plan, apply, checks, a clean re-plan and destroy, on a
local AWS emulator.

    python -m tools.rehearsal                               # the default settings, every stack
    python -m tools.rehearsal --config production           # environments/prod.json
    python -m tools.rehearsal --stacks homu-ec2             # homu-state, homu-data and only this compute
    python -m tools.rehearsal --keep --report out.json      # keep the work directory; write a JSON report
    python -m tools.rehearsal --serve [--port N]            # only the prepared emulator, until Ctrl-C
    python -m tools.rehearsal --serve --guide               # ... holding the guide's hand-built deployment

Starts moto in this process on a free loopback port, with the patches of ``tools.rehearsal.emulator``
that fill the gaps of moto 5.2.5 this project's stacks run into, synthesizes the stacks with the
project's own code for that configuration plus ``REHEARSAL_SETTINGS`` into a temporary directory, and
runs, in order:

* ``homu-state``: init, plan, apply, re-plan (its local state lands in the temporary directory);
* ``homu-data``, on the S3 backend in the bucket ``homu-state`` created: init, plan, apply, checks
  against the emulator (the lock check among them), re-plan;
* ``homu-fargate``, then ``homu-ec2``, on that data tier: init, plan, apply, checks, re-plan,
  (unprotect,) destroy, leftover check, and the data tier kept: the database the same (ARN, creation
  time) and its groups admitting nothing once the compute is gone;
* ``homu-data``: (unprotect,) destroy, leftover check;
* ``homu-state`` last: a plain destroy must be refused by ``prevent_destroy``; the rehearsal then
  removes that lifecycle from its staged copy only, empties the bucket and destroys it.

The re-plan is ``plan -detailed-exitcode`` and must report no changes: a perpetual diff fails the
rehearsal like an apply error does (the other stacks still run, so one run shows every diff). A
configuration with deletion protection (production) is torn down the way an operator would: the same
configuration with ``deletion_protection = false`` is applied first ("unprotect"), which must change
resources in place only, and then destroyed.

Checks after each remote-state stack's apply where it configures what they look at, through boto3
against the emulator, each against the synthesized configuration: the security-group rules group by group exactly as configured; the
database's exposure, encryption, Multi-AZ, name and user as configured; deletion protection as
configured; Redis admitting one IAM user and no password, and SECRET_KEY deriving from the data
tier's HMAC key; no credential the account holds in any version of any state object; the state object
under its backend key with every resource and no lock left; and S3-native locking: while one
Terraform holds the lock its ``.tflock`` object exists and a second Terraform is refused, and the
object is gone afterwards. With a GitHub repository configured, every stack is also planned as the
plan role with IAM enforced and ``-lock=false``, as CI plans (and refused with one permission fewer);
the role is refused the data it must not read, and every refresh action it is granted must be one the
plans called; backend CD's calls run as each deploy role. After each destroy nothing of the stack may
be left.

Only ever talks to 127.0.0.1: the endpoint setting accepts loopback URLs only, boto3 is given the
emulator's URL and no proxy, and Terraform runs with HTTP(S)_PROXY on a closed loopback port, so a
request that escaped the endpoint overrides fails on this machine instead of leaving it.

Exit status: 0 when every step passed; 1 when a step failed (named with its stack and step, with
Terraform's own diagnostics or the emulator's traceback); 2 on bad arguments; 130 when interrupted
(Ctrl-C or SIGTERM: Terraform and the emulator are stopped and the work directory removed first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
from pathlib import Path

from modules.names import COMPUTE_STACKS, DATA_STACK, STATE_STACK
from tools.interrupt import terminate
from tools.rehearsal.errors import RehearsalError
from tools.rehearsal.run import Rehearsal
from tools.rehearsal.serve import serve
from tools.rehearsal.settings import CONFIGS


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {text}")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rehearsal", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--config",
        choices=sorted(CONFIGS),
        default="default",
        help="default: no settings at all; production: environments/prod.json",
    )
    parser.add_argument(
        "--stacks",
        help=f"computes after {STATE_STACK} and {DATA_STACK}, comma-separated (default: all)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work directory (synthesized stacks, plans, Terraform logs, local state)",
    )
    parser.add_argument("--report", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="no rehearsal: run the prepared emulator and print its endpoint and exports, until Ctrl-C",
    )
    parser.add_argument(
        "--port", type=port_number, help="with --serve: this loopback port (default: a free one)"
    )
    parser.add_argument(
        "--guide",
        action="store_true",
        help="with --serve: replay the guide's console deployment first (tools.adopt)",
    )
    args = parser.parse_args(argv)
    if args.serve:
        given = [
            f"--{name}" for name in ("stacks", "keep", "report") if getattr(args, name) not in (None, False)
        ]
        if given:
            parser.error(f"--serve runs no rehearsal: it does not take {', '.join(given)}")
        return serve(args.config, args.port or 0, guide=args.guide)
    for option in ("port", "guide"):
        if getattr(args, option) not in (None, False):
            parser.error(f"--{option}: only with --serve")
    if args.stacks is None:  # no parser default, so that --serve can tell --stacks was given
        args.stacks = ",".join(COMPUTE_STACKS)
    stacks = tuple(dict.fromkeys(name.strip() for name in args.stacks.split(",") if name.strip()))
    if not stacks or set(stacks) - set(COMPUTE_STACKS):
        parser.error(
            f"--stacks: a comma-separated choice of {', '.join(COMPUTE_STACKS)}, got {args.stacks!r}"
        )
    if shutil.which("terraform") is None:
        print("error: terraform is not on the PATH (Terraform 1.11+ is required)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, terminate)
    rehearsal = Rehearsal(
        args.config,
        stacks=(STATE_STACK, DATA_STACK, *stacks),
        keep=args.keep,
        out=lambda line: print(line, flush=True),
    )
    try:
        rehearsal.run()
    except RehearsalError as error:
        print(f"\nerror: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(
            "\nerror: interrupted; Terraform and the emulator were stopped, the work directory removed",
            file=sys.stderr,
            flush=True,
        )
        return 130
    finally:
        if args.report:
            args.report.write_text(json.dumps(rehearsal.report(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
