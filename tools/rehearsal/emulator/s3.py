"""S3: bucket-policy conditions evaluated as AWS does."""

from __future__ import annotations

from typing import Any


def patch_policy_conditions() -> None:
    """Bucket policies: a statement whose condition does not hold does not apply, and requests count
    as sent over TLS (``aws:SecureTransport`` true).

    moto evaluates a matching statement as an explicit deny when its condition does not hold, and
    ignores the ``Bool`` operator, so the state bucket's TLS-only statement (deny when
    ``aws:SecureTransport`` is false) denied every object request, and the S3 backend could not read
    or write state. Terraform reaches AWS over HTTPS; it reaches the emulator over plain HTTP only
    because the emulator listens on loopback.
    """
    from moto.iam import policy_conditions
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    def boolean(expected: Any, actual: str) -> bool:
        wanted = expected if isinstance(expected, list) else [expected]
        return str(actual).lower() in [str(value).lower() for value in wanted]

    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", boolean)
    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        values = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        if self._statement.get("Condition") and not self._check_conditions(values):
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted
