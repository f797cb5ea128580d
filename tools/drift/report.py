"""The drift report as text: a headline per stack, then one finding a line with where and what to do."""

from __future__ import annotations

from tools.drift.drift import StackReport

INDENT = " " * 11


def _headline(report: StackReport) -> str:
    if report.status in ("not deployed", "error"):
        return f"{report.stack}: {report.status}" + (f": {report.error}" if report.error else "")
    drift, pending = len(report.drift), len(report.pending)
    state = f"DRIFTED, {drift} change{'s' * (drift != 1)} made outside Terraform" if drift else "no drift"
    later = f"{pending} pending change{'s' * (pending != 1)} of the code, not deployed yet" if pending else ""
    return f"{report.stack}: " + "; ".join(filter(None, [state, later])) + f" ({report.seconds:.0f} s)"


def text(reports: list[StackReport]) -> list[str]:
    lines = []
    for report in reports:
        lines.append(_headline(report))
        for finding in report.findings:
            where = finding.address + (f" · {finding.attribute}" if finding.attribute else "")
            lines += [
                f"  {finding.kind:<8} {finding.sentence}",
                f"{INDENT}{where}",
                f"{INDENT}fix: {finding.fix}",
            ]
    return lines
