"""A check's outcome: ok, a problem (with its fix), or could not check (and why)."""

from __future__ import annotations

from dataclasses import dataclass, field

OK = "ok"
PROBLEM = "problem"
UNCHECKED = "could not check"


@dataclass
class Check:
    stack: str  # the compute whose path is checked (the bill: its option)
    area: str  # database, cache, tasks, host, bill
    title: str  # what is asked, e.g. "homu-db-sg admits the app on 5432"
    status: str
    evidence: str  # what the account answered, or why it could not be asked
    fixes: list[str] = field(default_factory=list)  # under a problem: commands or settings
    notes: list[str] = field(default_factory=list)  # detail under any line (the bill's savings)


def ok(stack: str, area: str, title: str, evidence: str, notes: list[str] | None = None) -> Check:
    return Check(stack, area, title, OK, evidence, notes=notes or [])


def problem(stack: str, area: str, title: str, evidence: str, fixes: list[str]) -> Check:
    return Check(stack, area, title, PROBLEM, evidence, fixes)


def unchecked(stack: str, area: str, title: str, why: str, notes: list[str] | None = None) -> Check:
    return Check(stack, area, title, UNCHECKED, why, notes=notes or [])
