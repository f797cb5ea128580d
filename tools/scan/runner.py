"""Runs checkov 3.3 with the project's policies and applies the exceptions written next to resources.

Three gaps of checkov 3.3 on Terraform JSON are closed here, on a temporary copy of each stack:
* its terraform_json parser rejects a string ``terraform.required_version`` (it expects a block), so
  that one key is dropped from the copy;
* a top-level ``import`` list (an adoption's import blocks, modules/adoption.py) makes it check
  nothing in the file, with no parse error, so that key is dropped from the copy too; nothing else
  is changed;
* it ignores ``checkov:skip`` comments in JSON, so exceptions are read from each resource's
  ``"//": {"checkov_skip": {ID: reason}}`` (see modules/policy.py) and applied to the results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.tfjson import Stack, read_stack

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
CHECKOV = [sys.executable, "-m", "checkov.main", "--output", "json", "--skip-download"]
# checkov's result lists and the Target attribute each one fills.
BUCKETS = (("passed_checks", "passed"), ("failed_checks", "failed"), ("skipped_checks", "skipped"))


@dataclass
class Finding:
    check_id: str
    name: str
    resource: str
    file: str
    line: int
    reason: str = ""


@dataclass
class Target:
    """One scanned unit: a stack directory or a Dockerfile."""

    name: str
    source: Path
    passed: list[Finding] = field(default_factory=list)
    failed: list[Finding] = field(default_factory=list)
    skipped: list[Finding] = field(default_factory=list)
    unused_exceptions: list[str] = field(default_factory=list)


def stage(stack_dir: Path, staging: Path) -> Path:
    """A copy of the stack's Terraform JSON that checkov 3.3 can parse."""
    sources = sorted(stack_dir.glob("*.tf.json"))
    if not sources:
        raise SystemExit(
            f"scan: {stack_dir} holds no *.tf.json file (expected a synthesized stack directory)"
        )
    target = staging / stack_dir.name
    target.mkdir(parents=True)
    for source in sources:
        try:
            config = json.loads(source.read_text())
        except ValueError:
            shutil.copy(source, target / source.name)  # checkov reports it as unparsable
            continue
        terraform = config.get("terraform")
        if isinstance(terraform, dict):
            terraform.pop("required_version", None)
        config.pop("import", None)
        (target / source.name).write_text(json.dumps(config, indent=2))
    return target


def run_checkov(args: list[str]) -> list[dict]:
    """checkov's reports that hold results; exits if a project policy failed to load or no report came."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [*CHECKOV, "--external-checks-dir", str(POLICIES), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if "Cannot load external check" in result.stderr:
        raise SystemExit(f"scan: a project policy failed to load; checkov said:\n{result.stderr}")
    if not result.stdout.strip():
        raise SystemExit(f"scan: checkov produced no report (exit {result.returncode}):\n{result.stderr}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    # An empty report is a summary dict without "results" (e.g. nothing of that framework found).
    return [r for r in reports if "results" in r]


def results(reports: list[dict]) -> Iterator[tuple[str, dict]]:
    """``(bucket, record)`` for every check result of the reports."""
    for report in reports:
        for key, bucket in BUCKETS:
            for record in report["results"].get(key, []):
                yield bucket, record


def finding(record: dict, reason: str = "") -> Finding:
    return Finding(
        check_id=record["check_id"],
        name=record["check_name"],
        resource=record["resource"],
        file=record["file_path"].lstrip("/"),
        line=(record.get("file_line_range") or [0])[0],
        reason=reason,
    )


def addresses(stack: Stack) -> dict[str, str]:
    """``{NAME: "TYPE.NAME"}`` of the stack's resources and data sources.

    checkov names a Python check's subject ``resource.NAME``/``data.NAME`` in Terraform JSON but a
    graph check's ``TYPE.NAME``; cdktf names are unique in a stack, so NAME alone identifies it.
    """
    return {
        name: f"{'data.' if block == 'data' else ''}{type_}.{name}"
        for block, type_, name, _ in stack.blocks()
    }


def scan_stacks(stack_dirs: list[Path], selection: list[str]) -> tuple[list[Target], list[str]]:
    """One target per stack directory, and the files checkov could not parse."""
    targets = {d.name: Target(d.name, d) for d in stack_dirs}
    if len(targets) != len(stack_dirs):
        raise SystemExit("scan: two stack directories share a name; scan them separately")
    with tempfile.TemporaryDirectory(prefix="homu-scan-") as tmp:
        staging = Path(tmp)
        for stack_dir in stack_dirs:
            stage(stack_dir, staging)
        reports = run_checkov(["--directory", str(staging), "--framework", "terraform_json", *selection])
    # Files that do not parse add nothing here; checkov reports them as parsing errors.
    stacks = {name: read_stack(target.source, skip_unreadable=True) for name, target in targets.items()}
    names = {name: addresses(stack) for name, stack in stacks.items()}
    exceptions = {name: stack.exceptions() for name, stack in stacks.items()}
    parse_errors = [
        str(Path(p).relative_to(staging)) if p.startswith(str(staging)) else p
        for report in reports
        for p in report["results"].get("parsing_errors", [])
    ]
    by_stack: dict[str, list[tuple[str, dict]]] = {name: [] for name in targets}
    for bucket, record in results(reports):
        by_stack[record["file_path"].lstrip("/").split("/")[0]].append((bucket, record))
    for name, target in targets.items():
        used = sort_results(target, by_stack[name], names[name], exceptions[name])
        note_stale(target, exceptions[name], used, names[name])
    return list(targets.values()), parse_errors


def sort_results(
    target: Target,
    records: list[tuple[str, dict]],
    names: dict[str, str],
    exceptions: dict[str, dict[str, str]],
) -> set[tuple[str, str]]:
    """Files each result under the target, a failure that an exception excuses as a reasoned skip;
    returns the ``(resource name, check id)`` exceptions that excused something."""
    used: set[tuple[str, str]] = set()
    for bucket, record in records:
        name = record["resource"].split(".")[-1]
        record = {**record, "resource": names.get(name, record["resource"])}
        reason = exceptions.get(name, {}).get(record["check_id"])
        if bucket == "failed" and reason:
            used.add((name, record["check_id"]))
            target.skipped.append(finding(record, reason))
        else:
            getattr(target, bucket).append(finding(record))
    return used


def note_stale(
    target: Target, exceptions: dict[str, dict[str, str]], used: set[tuple[str, str]], names: dict[str, str]
) -> None:
    """Lists every exception that excused no failure: the resource changed, or the check passes now."""
    target.unused_exceptions += [
        f"{check_id} on {names[resource]}"
        for resource, checks in exceptions.items()
        for check_id in checks
        if (resource, check_id) not in used
    ]


def require_checks(target: Target, selection: list[str], *, unreadable: bool = False) -> None:
    """A scan that checked nothing (and was not narrowed to some checks) is a broken scan, not a pass."""
    if not (target.passed or target.failed or target.skipped or selection or unreadable):
        raise SystemExit(f"scan: checkov ran no check on {target.source}")


def plan_exceptions(stack: Stack, exceptions: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The stack's exceptions as a plan of it needs them: a planned security group also carries its
    rule resources' rules (the computed ``ingress``/``egress`` after an apply), so an exception on a
    rule resource holds for the group too."""
    inherited: dict[str, dict[str, str]] = {}
    for direction in ("ingress", "egress"):
        for name, body in stack.resources(f"aws_vpc_security_group_{direction}_rule").items():
            for group, _ in stack.referenced(body.get("security_group_id"), "aws_security_group"):
                inherited.setdefault(group, {}).update(exceptions.get(name, {}))
    return {
        name: {**inherited.get(name, {}), **exceptions.get(name, {})} for name in {*exceptions, *inherited}
    }


def scan_plan(plan: Path, stack_dir: Path, selection: list[str]) -> tuple[Target, list[str]]:
    """A ``terraform show -json`` plan of a synthesized stack, with that stack's exceptions; and the
    plan itself as a parse error when checkov could not read it."""
    stack = read_stack(stack_dir)
    names = addresses(stack)
    target = Target(f"{stack.name} (plan {plan.name})", plan)
    reports = run_checkov(["--file", str(plan), "--framework", "terraform_plan", *selection])
    parse_errors = [error for report in reports for error in report["results"].get("parsing_errors", [])]
    exceptions = stack.exceptions()
    used = sort_results(target, list(results(reports)), names, plan_exceptions(stack, exceptions))
    # A plan shows what is planned, so only the stack's own exceptions can be stale, not inherited ones.
    note_stale(target, exceptions, used, names)
    require_checks(target, selection, unreadable=bool(parse_errors))
    return target, parse_errors


def scan_dockerfile(dockerfile: Path, selection: list[str]) -> Target:
    target = Target(f"Dockerfile ({dockerfile.parent.name})", dockerfile)
    reports = run_checkov(["--file", str(dockerfile), "--framework", "dockerfile", *selection])
    for bucket, record in results(reports):
        getattr(target, bucket).append(finding(record))
    require_checks(target, selection)
    return target
