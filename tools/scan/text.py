"""The scan's report on stdout: per target its counts, failures, reasoned skips and stale exceptions."""

from __future__ import annotations

from tools.scan.runner import Target


def print_details(targets: list[Target], parse_errors: list[str]) -> None:
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


def print_summary(targets: list[Target], parse_errors: list[str]) -> None:
    failures = sum(len(t.failed) for t in targets)
    skipped = sum(len(t.skipped) for t in targets)
    print(f"scan: {failures} failed, {len(parse_errors)} unparsable, {skipped} skipped with a reason")
