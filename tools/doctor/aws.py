"""The account, read-only: every call goes through ``Aws.call``, which turns an AWS error into one
``CallFailed`` naming the IAM action (``ec2:DescribeSecurityGroups``), never a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from modules.settings import Settings
from tools.aws_clients import clients

# IAM's service prefix where it differs from boto3's client name.
_IAM_PREFIX = {"elbv2": "elasticloadbalancing"}
_MISSING_SUFFIXES = ("NotFound", "NotFoundFault", "NotFoundException", "NoSuchEntity", "NoSuchKey")
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "403"}


class CallFailed(Exception):
    """One AWS call failed: ``call`` is its IAM action, ``code`` AWS's error code."""

    def __init__(self, call: str, code: str, message: str) -> None:
        # One line whatever came back (an HTML error page, a multi-line message).
        message = " ".join(re.sub(r"<[^>]+>", " ", message).split())[:300]
        self.call, self.code, self.message = call, code, message
        super().__init__(f"{call} failed: {code}: {message}" if message else f"{call} failed: {code}")

    @property
    def missing(self) -> bool:
        return self.code.endswith(_MISSING_SUFFIXES) or self.code in ("ImageNotFoundException", "404")

    @property
    def denied(self) -> bool:
        return self.code in _DENIED


class Aws:
    """boto3 clients of the settings' region (and the emulator's ``endpoint_url``, straight there)."""

    def __init__(self, settings: Settings) -> None:
        self.region = settings.region
        self.emulated = bool(settings.endpoint_url)
        self.client: Callable[[str], Any] = clients(settings)

    def action(self, service: str, operation: str) -> str:
        api = self.client(service).meta.method_to_api_mapping.get(operation, operation)
        return f"{_IAM_PREFIX.get(service, service)}:{api}"

    def call(self, service: str, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client(service), operation)(**kwargs)
        except ClientError as error:
            details = error.response.get("Error", {})
            code = str(
                details.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            )
            raise CallFailed(self.action(service, operation), code, details.get("Message", "")) from None
        except BotoCoreError as error:  # no credentials, no endpoint, a timeout
            raise CallFailed(self.action(service, operation), type(error).__name__, str(error)) from None

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        """Every page's ``key`` items, each page through ``call``."""
        items: list[Any] = []
        token_in, token_out = _TOKENS.get(service, ("NextToken", "NextToken"))
        while True:
            answer = self.call(service, operation, **kwargs)
            items.extend(answer.get(key, []))
            token = answer.get(token_out)
            if not token:
                return items
            kwargs[token_in] = token


# (request field, answer field) of a service's continuation token where it is not NextToken.
_TOKENS = {"rds": ("Marker", "Marker"), "elasticache": ("Marker", "Marker"), "iam": ("Marker", "Marker")}
