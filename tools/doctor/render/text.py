"""One line per check (status, area, question: evidence), its fixes or notes under it, a summary."""

from __future__ import annotations

from collections import Counter

from tools.doctor.doctor import Diagnosis
from tools.doctor.model import OK, PROBLEM, UNCHECKED

WIDTH = len(UNCHECKED)


def summary(diagnosis: Diagnosis) -> str:
    counts = Counter(c.status for c in diagnosis.checks)
    problems = counts[PROBLEM]
    return (
        f"{counts[OK]} ok, {problems} problem{'s' if problems != 1 else ''}, {counts[UNCHECKED]} could not check "
        f"({', '.join(diagnosis.stacks)})"
    )


def render_text(diagnosis: Diagnosis) -> str:
    out: list[str] = []
    for stack in dict.fromkeys(c.stack for c in diagnosis.checks):
        out.append(f"{stack or 'all computes'}:")
        for check in (c for c in diagnosis.checks if c.stack == stack):
            out.append(f"  {check.status:<{WIDTH}}  {check.area:<8}  {check.title}: {check.evidence}")
            out.extend(f"  {'':<{WIDTH}}    fix: {fix}" for fix in check.fixes)
            out.extend(f"  {'':<{WIDTH}}    {note}" for note in check.notes)
    out.append(f"summary: {summary(diagnosis)}")
    return "\n".join(out) + "\n"
