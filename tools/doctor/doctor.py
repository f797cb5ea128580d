"""One pass: read the stacks' outputs from their state, then ask the account each question of the
guide's troubleshooting list for every compute deployed (or the ones named)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from modules.names import COMPUTE_STACKS, DATA_STACK, FARGATE_STACK
from modules.settings import Settings
from tools.doctor import app as apps
from tools.doctor.aws import Aws
from tools.doctor.cache import cache_checks
from tools.doctor.database import database_checks
from tools.doctor.host import host_checks
from tools.doctor.model import PROBLEM, Check
from tools.doctor.state import NotDeployed, outputs, where
from tools.doctor.tasks import task_checks


@dataclass
class Diagnosis:
    stacks: list[str]  # the computes examined
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == PROBLEM]


def diagnose(
    aws: Aws,
    settings: Settings,
    named: list[str],
    bill: Callable[[list[str]], list[Check]] | None = None,
) -> Diagnosis:
    """``named`` computes (each must be deployed), or every deployed one when none is named. ``bill``
    prices the computes found (the caller synthesizes); None leaves the bill out. Raises NotDeployed
    when homu-data, a named compute or every compute has no state; CallFailed when the state cannot
    be read (no credentials, denied)."""
    data = outputs(aws, settings, DATA_STACK)
    if data is None:
        raise NotDeployed(f"{DATA_STACK} is not deployed: no outputs in {where(settings, DATA_STACK)}")
    found = {stack: outputs(aws, settings, stack) for stack in (named or COMPUTE_STACKS)}
    missing = [stack for stack, published in found.items() if published is None]
    if named and missing:
        raise NotDeployed(
            "; ".join(f"{s} is not deployed: no outputs in {where(settings, s)}" for s in missing)
        )
    deployed = {stack: published for stack, published in found.items() if published is not None}
    if not deployed:
        raise NotDeployed(
            f"no compute stack is deployed: no outputs in {' or '.join(where(settings, s) for s in COMPUTE_STACKS)}"
        )
    diagnosis = Diagnosis(list(deployed))
    for stack, published in deployed.items():
        diagnosis.checks += _compute(aws, settings, data, stack, published)
    if bill is not None:
        diagnosis.checks += bill(list(deployed))
    return diagnosis


def _compute(aws: Aws, settings: Settings, data: dict, stack: str, published: dict) -> list[Check]:
    if stack == FARGATE_STACK:
        fargate = apps.fargate(aws, settings, published, stack)
        app, why = fargate.app, fargate.why
        own = task_checks(aws, settings, published, fargate)
    else:
        host = apps.host(aws, published)
        app, why = host.app, host.why
        own = host_checks(aws, host)
    return [
        *database_checks(aws, settings, data, stack, app, why),
        *cache_checks(aws, settings, data, stack, app, why),
        *own,
    ]
