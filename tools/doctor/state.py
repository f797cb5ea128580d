"""What the stacks published: the outputs in their state objects (``settings.state_key(stack)``)."""

from __future__ import annotations

import json
from typing import Any

from modules.settings import Settings
from tools.doctor.aws import Aws, CallFailed


class NotDeployed(Exception):
    """A stack the doctor needs has no state with outputs; the message says where it looked."""


def outputs(aws: Aws, settings: Settings, stack: str) -> dict[str, Any] | None:
    """``{name: value}`` of the stack's outputs; None when its state object does not exist or holds none
    (never deployed, or destroyed). Any other failure (denied, no credentials) is raised."""
    where = {"Bucket": settings.state_bucket, "Key": settings.state_key(stack)}
    try:
        body = aws.call("s3", "get_object", **where)["Body"].read()
    except CallFailed as error:
        if error.missing or error.code == "NoSuchBucket":
            return None
        raise
    state = json.loads(body)
    return {name: output.get("value") for name, output in state.get("outputs", {}).items()} or None


def where(settings: Settings, stack: str) -> str:
    return f"s3://{settings.state_bucket}/{settings.state_key(stack)}"
