"""Take over a deployment built by hand, read-only; then, separately, retire what the design removes.

    python -m tools.adopt [--output FILE] [--replace NAME ...] [--new-secret-key] [--json]
    python -m tools.adopt retire [--yes]

``adopt`` reads the settings as the stacks do (``HOMU_SETTINGS_FILE``, ``HOMU_*``), asks the account
what already exists under the stacks' names, plans each stack with the import blocks, prints one row
per resource and writes the settings file (by default ``HOMU_SETTINGS_FILE`` when it already holds an
adoption, else ``environments/adopted.json``); deploy with ``HOMU_SETTINGS_FILE=<that file>``. It
exits 1 and writes nothing when the plan would replace or destroy data, or replace anything the user
has not named with ``--replace``. Exit 2: bad settings. docs/adopting.md has the whole sequence.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from modules.settings import SETTINGS_FILE_VARIABLE, raw_settings, validate
from tools import account_tool
from tools.adopt.decide import Row, cost

DEFAULT_OUTPUT = Path("environments/adopted.json")


def _file_settings() -> tuple[Path | None, dict[str, Any]]:
    name = os.environ.get(SETTINGS_FILE_VARIABLE)
    return (Path(name), json.loads(Path(name).read_text())) if name else (None, {})


def _write(path: Path, settings: dict[str, Any]) -> None:
    """Whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as stream:
        json.dump(settings, stream, indent=2, sort_keys=True)
        stream.write("\n")
    os.replace(stream.name, path)


def table(rows: list[Row]) -> list[str]:
    """Every resource that exists or changes as a row; what is only created, counted per stack."""
    lines: list[str] = []
    for stack in dict.fromkeys(row.stack for row in rows):
        mine = [r for r in rows if r.stack == stack]
        lines.append(f"{stack}:")
        shown = [r for r in mine if r.action not in ("create", "unchanged")]
        width = max((len(r.address) for r in shown), default=0)
        for r in shown:
            detail = "; ".join(filter(None, [r.because and f"by {r.because}", cost(r)]))
            found = f"{r.name}: {r.found}" if r.found else r.name
            lines.append(
                f"  {r.address:<{width}}  {found}  -> {r.action}" + (f" ({detail})" if detail else "")
            )
        created = Counter(r.address.split(".")[0] for r in mine if r.action == "create")
        unchanged = sum(r.action == "unchanged" for r in mine)
        if created:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(created.items()))
            lines.append(f"  + {sum(created.values())} created: {kinds}")
        if unchanged:
            lines.append(f"  = {unchanged} already managed and unchanged")
    return lines


def _adopt(args: argparse.Namespace) -> int:
    from tools.adopt.adopt import adopt
    from tools.readonly_plan import PlanFailed

    source, file_settings = _file_settings()
    effective = raw_settings(Path("cdktf.json"), dict(os.environ))
    output = args.output or (source if source and "adoption" in file_settings else DEFAULT_OUTPUT)
    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    try:
        outcome = adopt(effective, allowed=set(args.replace), new_secret_key=args.new_secret_key, say=say)
    except PlanFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # The file keeps its own settings and gains what adopt mirrored; nothing of the environment's.
    written = {**file_settings, **{k: v for k, v in outcome.settings.items() if effective.get(k) != v}}
    if args.json:
        print(json.dumps({"rows": [r.__dict__ for r in outcome.table], "refusals": outcome.refusals,
                          "planned": outcome.planned, "settings": written}, indent=2))  # fmt: skip
    else:
        print("\n".join(table(outcome.table)))
        for item in outcome.retire:
            print(f"retire after the switch-over (python -m tools.adopt retire): {item}")
    sys.stdout.flush()  # the table first, then what stderr says about it
    if outcome.refusals:
        for line in outcome.refusals:
            print(f"refused: {line}", file=sys.stderr)
        print(f"nothing was written to {output}", file=sys.stderr)
        return 1
    _write(output, written)
    print(
        f"wrote {output}: deploy with {SETTINGS_FILE_VARIABLE}={output} (docs/adopting.md)", file=sys.stderr
    )
    return 0


def _retire(args: argparse.Namespace) -> int:
    from tools.adopt.retire import retire

    problems = retire(validate(raw_settings(Path("cdktf.json"), dict(os.environ))), apply=args.yes)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.adopt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    retire = sub.add_parser("retire", help="remove what the design retires, once the stacks serve")
    retire.add_argument("--yes", action="store_true", help="remove; without it, only say what would go")
    parser.add_argument("--output", type=Path, help="the settings file to write")
    parser.add_argument("--replace", action="append", default=[], metavar="NAME",
                        help="accept replacing this cache or stateless resource (its AWS name)")  # fmt: skip
    parser.add_argument(
        "--new-secret-key", action="store_true", help="accept a new SECRET_KEY (signs everyone out)"
    )
    parser.add_argument("--json", action="store_true", help="the rows, refusals and settings as JSON")
    args = parser.parse_args(argv)
    return account_tool.run(
        lambda: _retire(args) if args.command == "retire" else _adopt(args),
        tool="adopt",
        make_target="adopt",
        # Ctrl-C, SIGTERM or SIGHUP: Terraform is stopped, temporary directories are removed.
        interrupted="the removals listed above were made; run it again to finish"
        if args.command
        else "nothing was written",
    )


if __name__ == "__main__":
    sys.exit(main())
