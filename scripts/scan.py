#!/usr/bin/env python
"""Policy scan: checkov plus the project's own policies on synthesized stacks and the Dockerfile.

    pipenv run scan                      # every stack under cdktf.out/stacks, and backend/Dockerfile
    pipenv run scan DIR [DIR ...]        # these stack directories only (any cdktf/Terraform JSON output)
    pipenv run scan --sarif out.sarif --junit out.xml

Prints every failure with check id, resource and file, lists every exception with its reason, and
exits 1 on any failure, on any file checkov could not parse, or if a project policy failed to load.

Two gaps of checkov 3.3 on Terraform JSON are closed here, on a temporary copy of each stack:
* its terraform_json parser rejects a string ``terraform.required_version`` (it expects a block), so
  that one key is dropped from the copy; nothing else is changed;
* it ignores ``checkov:skip`` comments in JSON, so exceptions are read from each resource's
  ``"//": {"checkov_skip": {ID: reason}}`` (see modules/policy.py) and applied to the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
DEFAULT_STACKS = ROOT / "cdktf.out" / "stacks"
DEFAULT_DOCKERFILE = ROOT / "backend" / "Dockerfile"
SKIP_KEY = "checkov_skip"


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


def addresses_and_exceptions(config: dict) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Index a stack's resources and data sources by name.

    checkov names a Python check's subject ``resource.NAME``/``data.NAME`` in Terraform JSON but a
    graph check's ``TYPE.NAME``; cdktf names are unique in a stack, so NAME alone identifies it.
    Returns ``{NAME: "TYPE.NAME"}`` and ``{NAME: {check_id: reason}}`` from the ``//`` objects.
    """
    addresses: dict[str, str] = {}
    exceptions: dict[str, dict[str, str]] = {}
    for block in ("resource", "data"):
        for type_, bodies in config.get(block, {}).items():
            for name, body in bodies.items():
                addresses[name] = f"{'data.' if block == 'data' else ''}{type_}.{name}"
                comment = body.get("//") if isinstance(body, dict) else None
                if isinstance(comment, dict) and comment.get(SKIP_KEY):
                    exceptions[name] = dict(comment[SKIP_KEY])
    return addresses, exceptions


def _read(stack_dir: Path) -> dict:
    """The stack's Terraform JSON merged (unreadable files contribute nothing; checkov flags them)."""
    merged: dict = {}
    for source in sorted(stack_dir.glob("*.tf.json")):
        try:
            config = json.loads(source.read_text())
        except ValueError:
            continue
        for block in ("resource", "data"):
            for type_, bodies in config.get(block, {}).items():
                merged.setdefault(block, {}).setdefault(type_, {}).update(bodies)
    return merged


def stage(stack_dir: Path, staging: Path) -> Path:
    """A copy of the stack's Terraform JSON that checkov 3.3 can parse."""
    sources = sorted(stack_dir.glob("*.tf.json"))
    if not sources:
        raise SystemExit(f"scan: {stack_dir} holds no *.tf.json file (expected a synthesized stack directory)")
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
        (target / source.name).write_text(json.dumps(config, indent=2))
    return target


def run_checkov(args: list[str]) -> tuple[list[dict], str]:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "checkov.main", "--output", "json", "--skip-download",
         "--external-checks-dir", str(POLICIES), *args],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if "Cannot load external check" in result.stderr:
        raise SystemExit(f"scan: a project policy failed to load; checkov said:\n{result.stderr}")
    if not result.stdout.strip():
        raise SystemExit(f"scan: checkov produced no report (exit {result.returncode}):\n{result.stderr}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    # An empty report is a summary dict without "results" (e.g. nothing of that framework found).
    return [r for r in reports if "results" in r], result.stderr


def finding(record: dict, reason: str = "") -> Finding:
    return Finding(
        check_id=record["check_id"], name=record["check_name"], resource=record["resource"],
        file=record["file_path"].lstrip("/"), line=(record.get("file_line_range") or [0])[0], reason=reason,
    )  # fmt: skip


def scan_stacks(stack_dirs: list[Path], selection: list[str]) -> tuple[list[Target], list[str]]:
    targets = {d.name: Target(d.name, d) for d in stack_dirs}
    if len(targets) != len(stack_dirs):
        raise SystemExit("scan: two stack directories share a name; scan them separately")
    with tempfile.TemporaryDirectory(prefix="homu-scan-") as tmp:
        staging = Path(tmp)
        for stack_dir in stack_dirs:
            stage(stack_dir, staging)
        reports, _ = run_checkov(["--directory", str(staging), "--framework", "terraform_json", *selection])
    index = {name: addresses_and_exceptions(_read(target.source)) for name, target in targets.items()}
    parse_errors: list[str] = []
    used: set[tuple[str, str, str]] = set()
    for report in reports:
        parse_errors += [str(Path(p).relative_to(staging)) if p.startswith(str(staging)) else p
                         for p in report["results"].get("parsing_errors", [])]  # fmt: skip
        for key, bucket in (("passed_checks", "passed"), ("failed_checks", "failed"), ("skipped_checks", "skipped")):
            for record in report["results"].get(key, []):
                stack = record["file_path"].lstrip("/").split("/")[0]
                addresses, exceptions = index[stack]
                name = record["resource"].split(".")[-1]
                record = {**record, "resource": addresses.get(name, record["resource"])}
                reason = exceptions.get(name, {}).get(record["check_id"])
                if bucket == "failed" and reason:
                    used.add((stack, name, record["check_id"]))
                    targets[stack].skipped.append(finding(record, reason))
                else:
                    getattr(targets[stack], bucket).append(finding(record))
    for stack, (addresses, exceptions) in index.items():
        for name, checks in exceptions.items():
            for check_id in checks:
                if (stack, name, check_id) not in used:
                    targets[stack].unused_exceptions.append(f"{check_id} on {addresses[name]}")
    return list(targets.values()), parse_errors


def scan_dockerfile(dockerfile: Path, selection: list[str]) -> Target:
    target = Target(f"Dockerfile ({dockerfile.parent.name})", dockerfile)
    reports, _ = run_checkov(["--file", str(dockerfile), "--framework", "dockerfile", *selection])
    for report in reports:
        for key, bucket in (("passed_checks", "passed"), ("failed_checks", "failed"), ("skipped_checks", "skipped")):
            getattr(target, bucket).extend(finding(r) for r in report["results"].get(key, []))
    if not (target.passed or target.failed or target.skipped or selection):
        raise SystemExit(f"scan: checkov ran no check on {dockerfile}")
    return target


def write_sarif(targets: list[Target], path: Path) -> None:
    rules = {f.check_id: f.name for t in targets for f in t.failed}
    results = [
        {
            "ruleId": f.check_id, "level": "error",
            "message": {"text": f"{f.name} ({f.resource})"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _artifact(t, f)},
                "region": {"startLine": max(f.line, 1)},
            }}],
        }
        for t in targets for f in t.failed
    ]  # fmt: skip
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "checkov", "informationUri": "https://www.checkov.io",
                "rules": [{"id": i, "name": i, "shortDescription": {"text": n}} for i, n in sorted(rules.items())],
            }},
            "results": results,
        }],
    }  # fmt: skip
    path.write_text(json.dumps(sarif, indent=2))


def _artifact(target: Target, f: Finding) -> str:
    """The file's path relative to the repository when it is inside it (what code scanning needs)."""
    source = target.source if target.source.is_file() else target.source / Path(f.file).name
    try:
        return str(source.resolve().relative_to(ROOT))
    except ValueError:
        return str(source)


def write_junit(targets: list[Target], path: Path) -> None:
    suites = ET.Element("testsuites")
    for t in targets:
        suite = ET.SubElement(
            suites, "testsuite", name=t.name,
            tests=str(len(t.passed) + len(t.failed) + len(t.skipped)),
            failures=str(len(t.failed)), skipped=str(len(t.skipped)),
        )  # fmt: skip
        for status, findings in (("passed", t.passed), ("failed", t.failed), ("skipped", t.skipped)):
            for f in findings:
                case = ET.SubElement(suite, "testcase", classname=f"{t.name}.{f.resource}", name=f"{f.check_id} {f.name}")
                if status == "failed":
                    ET.SubElement(case, "failure", message=f"{f.check_id} failed on {f.resource} ({f.file})")
                elif status == "skipped":
                    ET.SubElement(case, "skipped", message=f.reason or "skipped")
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="checkov + project policies on synthesized stacks")
    parser.add_argument("stacks", nargs="*", type=Path, help="stack directories (default: cdktf.out/stacks/*)")
    parser.add_argument("--dockerfile", type=Path, action="append",
                        help="Dockerfile to scan (default with no stack arguments: backend/Dockerfile)")  # fmt: skip
    parser.add_argument("--check", help="only these check ids, comma-separated (checkov --check)")
    parser.add_argument("--sarif", type=Path, help="also write the failures as SARIF 2.1.0")
    parser.add_argument("--junit", type=Path, help="also write every result as JUnit XML")
    args = parser.parse_args(argv)

    stack_dirs = args.stacks or sorted(p.parent for p in DEFAULT_STACKS.glob("*/cdk.tf.json"))
    if not stack_dirs:
        print(f"scan: nothing to scan: no stacks under {DEFAULT_STACKS} (run `make synth` first)", file=sys.stderr)
        return 1
    for directory in stack_dirs:
        if not directory.is_dir():
            print(f"scan: {directory} is not a directory", file=sys.stderr)
            return 1
    dockerfiles = args.dockerfile if args.dockerfile is not None else ([] if args.stacks else [DEFAULT_DOCKERFILE])

    selection = ["--check", args.check] if args.check else []
    targets, parse_errors = scan_stacks([d.resolve() for d in stack_dirs], selection)
    targets += [scan_dockerfile(d.resolve(), selection) for d in dockerfiles]

    for t in targets:
        print(f"{t.name}: {len(t.passed)} passed, {len(t.failed)} failed, {len(t.skipped)} skipped")
        for f in t.failed:
            print(f"  FAILED  {f.check_id}  {f.resource}  ({f.file}:{f.line})  {f.name}")
        for f in t.skipped:
            print(f"  skipped {f.check_id}  {f.resource}: {f.reason}")
        for note in t.unused_exceptions:
            print(f"  note: exception {note} matched no failure (stale?)")
    for error in parse_errors:
        print(f"  PARSE ERROR  {error}: checkov could not read it, so nothing in it was checked")
    if args.sarif:
        write_sarif(targets, args.sarif)
    if args.junit:
        write_junit(targets, args.junit)
    failures = sum(len(t.failed) for t in targets)
    print(f"scan: {failures} failed, {len(parse_errors)} unparsable, "
          f"{sum(len(t.skipped) for t in targets)} skipped with a reason")  # fmt: skip
    return 1 if failures or parse_errors else 0


if __name__ == "__main__":
    sys.exit(main())
