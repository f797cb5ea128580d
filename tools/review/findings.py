"""Policy findings a change brings and fixes: the project's scan (``tools.scan``) on base and head.

A finding is a failed check on a resource; an exception is a failure excused with a reason (written
next to the resource, ``modules/policy.py``). Both are compared by stack, check and resource, so a
finding that only moved lines is neither new nor fixed. Only stacks whose JSON differs are scanned,
unless the policies themselves changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.review.synth import ReviewError
from tools.scan.runner import Finding, scan_stacks


@dataclass(frozen=True, order=True)
class Result:
    stack: str
    check_id: str
    resource: str
    name: str
    reason: str = ""  # an exception's reason


@dataclass
class FindingsDelta:
    new: list[Result] = field(default_factory=list)
    fixed: list[Result] = field(default_factory=list)
    new_exceptions: list[Result] = field(default_factory=list)
    dropped_exceptions: list[Result] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)  # the stacks scanned on both sides

    def __bool__(self) -> bool:
        return bool(self.new or self.fixed or self.new_exceptions or self.dropped_exceptions)


def _results(stack: str, findings: list[Finding], with_reason: bool) -> set[Result]:
    return {Result(stack, f.check_id, f.resource, f.name, f.reason if with_reason else "") for f in findings}


def scan(stack_dirs: list[Path]) -> tuple[set[Result], set[Result]]:
    """Failures and excused failures of the stacks; checkov runs once for all of them."""
    if not stack_dirs:
        return set(), set()
    targets, parse_errors = scan_stacks(stack_dirs, [])
    if parse_errors:
        raise ReviewError(f"checkov could not read {', '.join(parse_errors)}")
    failed = {r for t in targets for r in _results(t.name, t.failed, with_reason=False)}
    excused = {r for t in targets for r in _results(t.name, t.skipped, with_reason=True)}
    return failed, excused


def compare(
    base: tuple[set[Result], set[Result]], head: tuple[set[Result], set[Result]], scanned: list[str]
) -> FindingsDelta:
    (base_failed, base_excused), (head_failed, head_excused) = base, head

    def key(result: Result) -> tuple[str, str, str]:
        return result.stack, result.check_id, result.resource

    def minus(left: set[Result], right: set[Result]) -> list[Result]:
        keys = {key(r) for r in right}
        return sorted(r for r in left if key(r) not in keys)

    return FindingsDelta(
        new=minus(head_failed, base_failed),
        # A failure the head excuses is not fixed: it is listed as a new exception instead.
        fixed=minus(base_failed, head_failed | head_excused),
        new_exceptions=minus(head_excused, base_excused),
        dropped_exceptions=minus(base_excused, head_excused),
        scanned=scanned,
    )
