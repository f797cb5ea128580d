"""Roles an AWS service assumes carry AWS's confused-deputy guard: aws:SourceAccount or aws:SourceArn.

Without it the service may assume the role on behalf of any account that names it. EC2 sends neither
key when it assumes an instance role, so EC2's principal is the one exception.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from homu_rules import _json, _values

WITHOUT_SOURCE_KEYS = {"ec2.amazonaws.com"}
SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn"}


def _guarded(statement: dict[str, Any]) -> bool:
    conditions = statement.get("Condition") or {}
    return any(key.lower() in SOURCE_KEYS for operator in conditions.values() for key in (operator or {}))


class ServiceRolesNameTheirSource(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="A role an AWS service assumes is limited to this account with aws:SourceAccount/SourceArn",
            id="CKV_HOMU_10",
            categories=[CheckCategories.IAM],
            supported_resources=["aws_iam_role"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        policy = _json(conf.get("assume_role_policy"))
        if not isinstance(policy, dict):
            return CheckResult.UNKNOWN
        statements = policy.get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            principal = statement.get("Principal")
            services = set(_values(principal.get("Service"))) if isinstance(principal, dict) else set()
            if (
                statement.get("Effect") == "Allow"
                and services - WITHOUT_SOURCE_KEYS
                and not _guarded(statement)
            ):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = ServiceRolesNameTheirSource()
