"""``python -m tools.ci COMMAND``: the privileged CI jobs' steps (docs/ci-cd.md).

    requirements   the hash-pinned packages these commands need (pydantic, for the settings)
    environments   the environments to plan, as a JSON matrix: every settings file with a repository
    gate           refuse to go on unless the job's GitHub environment is protected
    prepare        allowlist the uploaded synthesis and lay out its stacks with the base's lock file
    plan           terraform init and plan -lock=false of every prepared stack

Subcommands import what they need when they run: ``requirements`` and ``gate`` work on a bare Python.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# What `import modules.settings` loads beyond the standard library (tests/test_ci_plan.py checks it).
SETTINGS_PACKAGES = ("annotated-types", "pydantic", "pydantic-core", "typing-extensions", "typing-inspection")


def requirements(lock: Path = ROOT / "Pipfile.lock") -> str:
    """pip's requirements format, every package pinned with its hashes as Pipfile.lock has them."""
    default = json.loads(lock.read_text())["default"]
    lines = []
    for name in SETTINGS_PACKAGES:
        package = default[name]
        hashes = " ".join(f"--hash={h}" for h in package["hashes"])
        lines.append(f"{name}{package['version']} {hashes}")
    return "\n".join(lines) + "\n"


def environments(root: Path = ROOT) -> list[dict[str, str]]:
    """Each configured environment that names a GitHub repository (so has a plan role): the default
    (cdktf.json) and every ``environments/*.json``, with the GitHub environment its plan runs in."""
    from modules.settings import SETTINGS_FILE_VARIABLE, load_settings

    found = []
    for file in ["", *sorted(str(p.relative_to(root)) for p in (root / "environments").glob("*.json"))]:
        settings = load_settings(
            root / "cdktf.json", {SETTINGS_FILE_VARIABLE: str(root / file)} if file else {}
        )
        if settings.github_repository:
            found.append(
                {
                    "name": settings.environment,
                    "settings_file": file,
                    # the directory infra-plan.yml's synth job uploads this synthesis in
                    "synthesis": Path(file).stem if file else "default",
                    "github_environment": settings.github_plan_environment,
                    # where the scheduled drift check (drift.yml) takes the same role
                    "drift_environment": settings.github_drift_environment,
                }
            )
    names = [e["name"] for e in found]
    if len(set(names)) != len(names):
        raise SystemExit(f"error: two settings files configure the same environment: {', '.join(names)}")
    return found


def main(argv: list[str] | None = None) -> int:
    from tools.ci import gate

    parser = argparse.ArgumentParser(prog="python -m tools.ci", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("requirements", help="hash-pinned requirements of these commands")
    commands.add_parser("environments", help="the environments to plan, as JSON")
    gate.add_arguments(commands.add_parser("gate", help="check the GitHub environment's protection"))
    prepare = commands.add_parser("prepare", help="allowlist a synthesis and lay it out for planning")
    prepare.add_argument("--synthesized", type=Path, required=True, help="the uploaded cdktf.out")
    prepare.add_argument("--work", type=Path, required=True, help="where to lay out the stacks")
    prepare.add_argument("--out", type=Path, help="where the plans go: a refusal is written there too")
    plan = commands.add_parser("plan", help="plan every prepared stack")
    plan.add_argument("--work", type=Path, required=True)
    plan.add_argument(
        "--out", type=Path, required=True, help="where the plans go (tools.plan_summary reads it)"
    )
    args = parser.parse_args(argv)

    if args.command == "requirements":
        sys.stdout.write(requirements())
        return 0
    if args.command == "environments":
        print(json.dumps(environments()))
        return 0
    if args.command == "gate":
        return gate.run(args)
    return _plan_command(args)


def _plan_command(args: argparse.Namespace) -> int:
    from modules.settings import SettingsError, load_settings
    from tools.ci import plan
    from tools.plan_summary import REFUSED

    try:
        settings = load_settings(ROOT / "cdktf.json")
        if args.command == "prepare":
            stacks = plan.prepare(args.synthesized, settings, args.work)
            print(f"{settings.environment}: {', '.join(stacks)} pass the allowlist; laid out in {args.work}")
            return 0
        return 0 if plan.run(args.work, args.out) else 1
    except (SettingsError, plan.Refused) as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        if args.command == "prepare" and args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / REFUSED).write_text("\n".join(error.lines) + "\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
