"""Invariants inside JSON strings that checkov's own checks misread on cdktf output:
container definitions, IAM policy documents, and user data."""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from homu_rules import _json, _value

ROOT_USERS = re.compile(r"^(0|root)(:.*)?$")
# Actions AWS offers no resource-level permission for: "*" is the only possible Resource.
STAR_ONLY_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "sts:GetCallerIdentity",
    "ssm:DescribeParameters",
    "ecs:RegisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ssm:GetCommandInvocation",
    "ssm:ListCommandInvocations",
}
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|ACCESS_KEY)", re.IGNORECASE)
# Names that say where a secret lives or what it is derived from, e.g. SECRET_KEY_KMS_KEY_ID (a key
# ARN) or SECRET_KEY_KMS_MESSAGE (public input of an HMAC under a key only the app may use).
REFERENCE_NAME = re.compile(r"(_ARN|_KMS_KEY_ID|_KMS_MESSAGE)$", re.IGNORECASE)
# NAME=value / NAME: value with a literal of 8+ characters, i.e. not a shell or Terraform reference.
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b\w*(password|passwd|secret|token|api_key|access_key)\w*\s*[=:]\s*['\"]?(?![$'\"])[^\s'\"$]{8,}"
)


class ContainersNonRootReadOnly(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS containers run as a non-root user with a read-only root filesystem",
            id="CKV_HOMU_7",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_ecs_task_definition"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        containers = _json(conf.get("container_definitions"))
        if not isinstance(containers, list):
            return CheckResult.UNKNOWN
        for container in containers:
            user = str(container.get("user") or "")
            if not user or ROOT_USERS.match(user) or container.get("readonlyRootFilesystem") is not True:
                return CheckResult.FAILED
        return CheckResult.PASSED


class NoWildcardResources(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="IAM statements name their resources; '*' only for actions that have no resource-level scope",
            id="CKV_HOMU_8",
            categories=[CheckCategories.IAM],
            supported_resources=[
                "aws_iam_role_policy",
                "aws_iam_policy",
                "aws_iam_user_policy",
                "aws_iam_group_policy",
            ],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        document = _json(conf.get("policy"))
        if not isinstance(document, dict):
            return CheckResult.UNKNOWN  # an HCL expression (jsonencode, a data source): not readable here
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if "*" in actions or any(a.endswith(":*") for a in actions):
                return CheckResult.FAILED
            if "*" in resources and not set(actions) <= STAR_ONLY_ACTIONS:
                return CheckResult.FAILED
        return CheckResult.PASSED


class NoSecretsInUserDataOrEnvironment(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="No secret value in EC2 user data or in a container's plain environment",
            id="CKV_HOMU_9",
            categories=[CheckCategories.SECRETS],
            supported_resources=["aws_instance", "aws_launch_template", "aws_ecs_task_definition"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if self.entity_type == "aws_ecs_task_definition":
            containers = _json(conf.get("container_definitions"))
            if not isinstance(containers, list):
                return CheckResult.UNKNOWN
            for container in containers:
                for variable in container.get("environment") or []:
                    name = str(variable.get("name", ""))
                    if SECRET_NAME.search(name) and not REFERENCE_NAME.search(name):
                        return CheckResult.FAILED
            return CheckResult.PASSED
        user_data = str(_value(conf.get("user_data")) or "")
        return CheckResult.FAILED if SECRET_ASSIGNMENT.search(user_data) else CheckResult.PASSED


containers = ContainersNonRootReadOnly()
wildcards = NoWildcardResources()
secrets = NoSecretsInUserDataOrEnvironment()
