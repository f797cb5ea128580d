"""Why a task stopped, from the texts ECS writes (a task's ``stoppedReason``, its containers' ``reason``
and ``exitCode``, the service's events), sorted into the causes the guide's readers meet.

The patterns follow the messages of AWS's ECS troubleshooting pages ("Amazon ECS stopped task errors",
CannotPullContainerError, ResourceInitializationError, OutOfMemoryError, service event messages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

IMAGE_MISSING = "image missing in ECR"
SECRET_UNREADABLE = "secret not readable"
NO_ROUTE = "no route to ECR or Secrets Manager"
HEALTH_CHECK = "health check failing"
OUT_OF_MEMORY = "out of memory"
APP_EXITED = "the app exited"
OTHER = "other"
# In this order: a pull that timed out also says CannotPullContainerError, a denied secret read also
# says "unable to pull secrets".
_PATTERNS = (
    (
        SECRET_UNREADABLE,
        re.compile(
            r"(secrets|asm|ssm).*(AccessDenied|not authorized)|(AccessDenied|not authorized).*secretsmanager",
            re.IGNORECASE | re.DOTALL,
        ),
    ),
    (
        NO_ROUTE,
        re.compile(
            r"i/o timeout|dial tcp|send request failed|context deadline exceeded|request canceled while waiting for connection",
            re.IGNORECASE,
        ),
    ),
    (
        IMAGE_MISSING,
        re.compile(
            r"CannotPullContainerError.*(not found|manifest unknown|does not exist|repository .* not found)",
            re.IGNORECASE | re.DOTALL,
        ),
    ),
    (
        HEALTH_CHECK,
        re.compile(r"failed (ELB|container) health checks|is unhealthy in \(target-group", re.IGNORECASE),
    ),
    (OUT_OF_MEMORY, re.compile(r"OutOfMemoryError|killed due to memory usage", re.IGNORECASE)),
)
# Stops that are the service doing its job, not a failure.
_ROUTINE = re.compile(
    r"Scaling activity initiated by|Task stopped by user|deployment .* (replaced|completed)|"
    r"ECS is performing maintenance|Service .* deployment",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Cause:
    kind: str
    text: str  # the message it was read from, as ECS wrote it


def classify(text: str, exit_code: int | None = None) -> str:
    for kind, pattern in _PATTERNS:
        if pattern.search(text):
            return kind
    if exit_code == 137:
        return OUT_OF_MEMORY
    if exit_code not in (None, 0):
        return APP_EXITED
    return OTHER


def stopped_task_cause(task: dict[str, Any]) -> Cause | None:
    """The cause of one stopped task, or None when it stopped routinely (scaled in, replaced)."""
    reason = task.get("stoppedReason", "")
    if _ROUTINE.search(reason):
        return None
    if (kind := classify(reason)) != OTHER:
        return Cause(kind, reason)
    # "Essential container in task exited": the containers say why (out of memory, the exit code).
    for container in task.get("containers", []):
        text, code = container.get("reason", ""), container.get("exitCode")
        if (kind := classify(text, code)) != OTHER:
            return Cause(kind, f"{reason}; {container.get('name')}: {text or 'exited'} (exit code {code})")
    if task.get("stopCode") in ("TaskFailedToStart", "EssentialContainerExited"):
        return Cause(OTHER, reason)
    return None


def event_cause(message: str) -> Cause | None:
    """A service event that reports a failure, classified; None for the others (steady state, started)."""
    kind = classify(message)
    if kind != OTHER:
        return Cause(kind, message)
    if re.search(
        r"unable to consistently start tasks|failed to launch a task|unable to place a task",
        message,
        re.IGNORECASE,
    ):
        return Cause(OTHER, message)
    return None
