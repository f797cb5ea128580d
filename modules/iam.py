"""IAM policy documents as plain JSON (readable in the synthesized output, parseable in tests)."""

from __future__ import annotations

import json
from typing import Any


def statement(
    actions: list[str], resources: list[str], *, sid: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An Allow statement; ``extra`` adds e.g. ``Condition``."""
    body: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}
    return {"Sid": sid, **body} if sid else body


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust(service: str, **condition: Any) -> str:
    """A trust policy letting one AWS service assume the role."""
    trust: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}
    if condition:
        trust["Condition"] = condition
    return document(trust)
