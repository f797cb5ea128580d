"""Whether a role's own policies allow an action on a resource, evaluated here from the documents
(moto has no ``iam:SimulatePrincipalPolicy``, and the doctor must not need it on AWS either).

What is evaluated: the role's inline and attached policies and its permissions boundary; Allow and
Deny, ``Action``/``NotAction``, ``Resource``/``NotResource``, ``*`` and ``?`` wildcards (actions
case-insensitive). What is not: conditions (a statement with one is taken as if it held, and the
answer names it), resource policies (the secret's, the key's), SCPs and session policies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from tools.doctor.aws import Aws


@dataclass
class Decision:
    allowed: bool
    why: str  # "allowed by ReadTheMasterPassword in pull-image-read-secrets-write-logs"
    conditions: list[str] = field(default_factory=list)  # statements taken as if their conditions held


@dataclass
class Document:
    name: str  # where it comes from: "inline pull-image-...", "arn:aws:iam::aws:policy/..."
    statements: list[dict[str, Any]]


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):  # IAM returns documents URL-encoded (boto3 decodes the inline ones)
        document = json.loads(unquote(document))
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def role_documents(aws: Aws, role_name: str) -> tuple[list[Document], list[Document]]:
    """The role's identity policies and its permissions boundary (empty: none)."""
    documents = []
    for name in aws.pages("iam", "list_role_policies", "PolicyNames", RoleName=role_name):
        policy = aws.call("iam", "get_role_policy", RoleName=role_name, PolicyName=name)
        documents.append(Document(f"inline policy {name}", _statements(policy["PolicyDocument"])))
    for attached in aws.pages("iam", "list_attached_role_policies", "AttachedPolicies", RoleName=role_name):
        documents.append(_managed(aws, attached["PolicyArn"]))
    boundary = aws.call("iam", "get_role", RoleName=role_name)["Role"].get("PermissionsBoundary")
    return documents, [_managed(aws, boundary["PermissionsBoundaryArn"])] if boundary else []


def _managed(aws: Aws, arn: str) -> Document:
    version = aws.call("iam", "get_policy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = aws.call("iam", "get_policy_version", PolicyArn=arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    return Document(arn, _statements(document))


@lru_cache(maxsize=256)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _any(values: Any, candidate: str, ignore_case: bool) -> bool:
    values = [values] if isinstance(values, str) else values or []
    return any(_pattern(v, ignore_case).match(candidate) for v in values)


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement and not _any(statement["Action"], action, True):
        return False
    if "NotAction" in statement and _any(statement["NotAction"], action, True):
        return False
    if "Resource" in statement and not _any(statement["Resource"], resource, False):
        return False
    return not ("NotResource" in statement and _any(statement["NotResource"], resource, False))


def _label(statement: dict[str, Any], document: Document) -> str:
    sid = statement.get("Sid")
    return f"{'statement ' + sid if sid else 'a statement'} of {document.name}"


def decide(documents: list[Document], action: str, resource: str) -> Decision:
    """An explicit Deny wins, then any Allow; neither is the implicit deny."""
    allows, conditions = [], []
    for document in documents:
        for statement in document.statements:
            if not _applies(statement, action, resource):
                continue
            if statement.get("Condition"):
                keys = sorted({k for test in statement["Condition"].values() for k in test})
                conditions.append(f"{_label(statement, document)} ({', '.join(keys)})")
            if statement.get("Effect") == "Deny":
                return Decision(False, f"denied by {_label(statement, document)}", conditions)
            if statement.get("Effect") == "Allow":
                allows.append(_label(statement, document))
    if allows:
        return Decision(True, f"allowed by {allows[0]}", conditions)
    return Decision(False, "no statement allows it", conditions)


def role_decision(
    documents: list[Document], boundary: list[Document], action: str, resource: str
) -> Decision:
    decision = decide(documents, action, resource)
    if decision.allowed and boundary:
        limit = decide(boundary, action, resource)
        if not limit.allowed:
            return Decision(
                False,
                f"{decision.why}, but the permissions boundary {limit.why.replace('no statement allows it', 'does not allow it')}",
                decision.conditions,
            )
    return decision
