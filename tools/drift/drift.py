"""One read-only pass: which stacks are deployed, the project's synthesis of the settings, a refreshed
``terraform plan -lock=false`` of each deployed stack, and its findings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from modules.names import REMOTE_STATE_STACKS
from modules.settings import validate
from tools.aws_clients import clients, state_object
from tools.drift.findings import Finding, findings
from tools.readonly_plan import PlanFailed, plan, synthesized

Status = Literal["clean", "drifted", "not deployed", "error"]


@dataclass
class StackReport:
    stack: str
    status: Status
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def drift(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "drift"]

    @property
    def pending(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "pending"]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "drift": [f.to_json() for f in self.drift],
            "pending": [f.to_json() for f in self.pending],
            "error": self.error,
            "seconds": round(self.seconds, 1),
        }


def exit_code(reports: list[StackReport]) -> int:
    """``terraform plan -detailed-exitcode``'s contract, for drift: 1 error, 2 drifted, 0 clean (pending
    changes are the code's, not drift)."""
    if any(r.status == "error" for r in reports):
        return 1
    return 2 if any(r.status == "drifted" for r in reports) else 0


def check(raw: dict[str, Any], stacks: tuple[str, ...], say: Callable[[str], None]) -> list[StackReport]:
    """A report per stack of ``stacks`` (in deploy order). A stack named on the command line that was
    never deployed is an error; of all stacks (none named), it is only said."""
    settings = validate(raw)
    client = clients(settings)
    named = bool(stacks)
    wanted = [s for s in REMOTE_STATE_STACKS if s in stacks] if named else list(REMOTE_STATE_STACKS)
    states = {s: state_object(client, settings, s) for s in REMOTE_STATE_STACKS}
    deployed = [s for s in wanted if states[s] is not None]
    # Members (rules, attachments, routes) may be managed by another stack: the computes add rules to
    # the data tier's groups.
    resources = [
        (resource["type"], instance.get("attributes") or {})
        for state in states.values()
        for resource in (state or {}).get("resources", [])
        if resource.get("mode") == "managed"
        for instance in resource.get("instances", [])
    ]
    reports = {
        s: StackReport(
            s,
            "error" if named else "not deployed",
            error=f"no state at s3://{settings.state_bucket}/{settings.state_key(s)}: not deployed"
            if named
            else None,
        )
        for s in wanted
        if s not in deployed
    }
    if deployed:
        with synthesized(raw, prefix="drift") as synthesis:
            for name in deployed:
                say(f"{name}: planning (refresh, no lock, nothing written)...")
                started = time.monotonic()
                try:
                    found = findings(name, plan(synthesis[name], deployed=True), resources)
                    status: Status = "drifted" if any(f.kind == "drift" for f in found) else "clean"
                    reports[name] = StackReport(name, status, found)
                except PlanFailed as error:
                    reports[name] = StackReport(name, "error", error=str(error))
                reports[name].seconds = time.monotonic() - started
    return [reports[s] for s in wanted]
