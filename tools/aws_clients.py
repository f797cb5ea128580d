"""boto3 clients for the settings' region and endpoint, and the stacks' state objects, for the tools
that ask the account (adopt, drift, doctor). boto3 comes with the development set (``make adopt``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from modules.settings import Settings


def clients(settings: Settings) -> Callable[[str], Any]:
    """``client(service)``, one per service, made once."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=settings.region)
    # The emulator is on a loopback address: straight there, whatever proxy the environment names.
    config = Config(retries={"max_attempts": 4}, proxies={} if settings.endpoint_url else None)
    return cache(lambda service: session.client(service, endpoint_url=settings.endpoint_url, config=config))


def state_object(client: Callable[[str], Any], settings: Settings, stack: str) -> dict[str, Any] | None:
    """The stack's Terraform state as the S3 backend keeps it; ``None`` when it was never deployed (or the state bucket does not exist yet)."""
    from botocore.exceptions import ClientError

    try:
        answer = client("s3").get_object(Bucket=settings.state_bucket, Key=settings.state_key(stack))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket", "404"):
            return None
        raise
    return json.loads(answer["Body"].read())
