"""IAM policy documents as plain JSON (readable in the synthesized output, parseable in tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def statement(
    actions: list[str], resources: list[str], *, sid: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An Allow statement; ``extra`` adds e.g. ``Condition``."""
    body: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    return {"Sid": sid, **body} if sid else body


def deny(
    actions: list[str], *, sid: str, not_resources: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A Deny statement on everything, or on everything but ``not_resources``; it wins over any Allow."""
    scope = {"NotResource": not_resources} if not_resources else {"Resource": ["*"]}
    return {"Sid": sid, "Effect": "Deny", "Action": actions, **scope, **extra}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class RoleRef:
    """A role another stack made: what policies attach to (name) and what others pass or trust (arn)."""

    name: str
    arn: str


def service_trust(service: str, *, source_account: str | None, source_arn: str | None = None) -> str:
    """A trust policy letting one AWS service assume the role, only on behalf of ``source_account``
    (and of resources matching ``source_arn``): AWS's confused-deputy guard for service roles.

    ``source_account=None`` is for EC2's instance roles alone: EC2 sends neither key.
    """
    trust: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}
    if source_account is not None:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
        if source_arn is not None:
            trust["Condition"]["ArnLike"] = {"aws:SourceArn": source_arn}
    return document(trust)
