"""Whether the task definition's execution role may do what the ECS agent does for it before the app
starts: read the secrets it names (``secretsmanager:GetSecretValue`` on each, ``kms:Decrypt`` on each
one's key) and pull the image, evaluated from the role's policies (``tools/doctor/policy.py``)."""

from __future__ import annotations

from typing import Any

from modules.names import FARGATE_STACK
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.images import ECR_IMAGE
from tools.doctor.model import Check, ok, problem, unchecked
from tools.doctor.policy import Decision, Document, role_decision, role_documents

AREA = "tasks"
# Keys whose use needs no grant of the caller's own (the key policy lets the account's services use it).
_AWS_MANAGED = ("alias/aws/secretsmanager",)


def execution_role_checks(aws: Aws, definition: dict[str, Any]) -> list[Check]:
    titles = (
        "the execution role can read the secrets the task definition names",
        "the execution role can pull the image",
    )
    arn = definition.get("executionRoleArn")
    if not arn:
        return [
            problem(
                FARGATE_STACK,
                AREA,
                titles[0],
                "the task definition names no execution role",
                [f"python -m tools.cdktf deploy {FARGATE_STACK}"],
            )
        ]
    role = arn.rsplit("/", 1)[-1]
    try:
        documents, boundary = role_documents(aws, role)
    except CallFailed as error:
        reason = f"the role {role} does not exist" if error.missing else str(error)
        return [unchecked(FARGATE_STACK, AREA, title, reason) for title in titles]
    return [
        _secrets(aws, definition, role, documents, boundary, titles[0]),
        _pull(aws, definition, role, documents, boundary, titles[1]),
    ]


def secret_arns(definition: dict[str, Any]) -> list[str]:
    """Each Secrets Manager secret the containers name (``valueFrom`` may add ``:json-key:stage:version``)."""
    found = [
        ":".join(s["valueFrom"].split(":")[:7])
        for c in definition.get("containerDefinitions", [])
        for s in c.get("secrets", [])
        if s.get("valueFrom", "").startswith("arn:") and ":secretsmanager:" in s["valueFrom"]
    ]
    return list(dict.fromkeys(found))


def _judge(
    role: str, title: str, documents, boundary, wants: list[tuple[str, str]], granted: str, gone: list[str]
) -> Check:
    """ok when the role may make every (action, resource) of ``wants`` and nothing is ``gone``."""
    decisions = [
        (action, resource, role_decision(documents, boundary, action, resource)) for action, resource in wants
    ]
    conditions = sorted({c for _, _, d in decisions for c in d.conditions})
    note = f"; conditions not evaluated, taken as holding: {', '.join(conditions)}" if conditions else ""
    denied = [(a, r, d) for a, r, d in decisions if not d.allowed]
    if gone or denied:
        said = gone + [f"{role} may not {action} on {resource}: {d.why}" for action, resource, d in denied]
        return problem(
            FARGATE_STACK,
            AREA,
            title,
            "; ".join(said) + note,
            _fixes(role, [d for *_, d in denied], documents),
        )
    return ok(FARGATE_STACK, AREA, title, f"{role}: {granted}{note}")


def _fixes(role: str, denied: list[Decision], documents: list[Document]) -> list[str]:
    fixes = [f"python -m tools.cdktf deploy {FARGATE_STACK}   (puts back the role's own policy)"]
    for decision in denied:
        for document in documents:
            if document.name in decision.why and decision.why.startswith("denied"):
                if document.name.startswith("inline policy "):
                    name = document.name.removeprefix("inline policy ")
                    fixes.append(
                        f"aws iam delete-role-policy --role-name {role} --policy-name {name}   (the Deny is not the stack's)"
                    )
                else:
                    fixes.append(
                        f"aws iam detach-role-policy --role-name {role} --policy-arn {document.name}"
                    )
    return list(dict.fromkeys(fixes))


def _secrets(aws: Aws, definition, role: str, documents, boundary, title: str) -> Check:
    arns = secret_arns(definition)
    if not arns:
        return ok(FARGATE_STACK, AREA, title, "the task definition names no secret")
    wants, gone = [], []
    try:
        for arn in arns:
            try:
                secret = aws.call("secretsmanager", "describe_secret", SecretId=arn)
            except CallFailed as error:
                if not error.missing:
                    raise
                gone.append(arn)
                continue
            if secret.get("DeletedDate"):
                gone.append(arn)
            wants.append(("secretsmanager:GetSecretValue", secret["ARN"]))
            key = secret.get("KmsKeyId")
            if key and key not in _AWS_MANAGED:
                described = aws.call("kms", "describe_key", KeyId=key)["KeyMetadata"]
                if described.get("KeyManager") != "AWS":
                    if described.get("KeyState") != "Enabled":
                        gone.append(f"{described['Arn']} ({described.get('KeyState')})")
                    wants.append(("kms:Decrypt", described["Arn"]))
    except CallFailed as error:
        return unchecked(FARGATE_STACK, AREA, title, str(error))
    said = f"{len(wants)} permission(s) on {len(arns)} secret(s) and their keys"
    return _judge(
        role, title, documents, boundary, wants, said, [f"{what} is deleted or unusable" for what in gone]
    )


def _pull(aws: Aws, definition, role: str, documents, boundary, title: str) -> Check:
    wants = [("ecr:GetAuthorizationToken", "*")]
    for container in definition.get("containerDefinitions", []):
        if match := ECR_IMAGE.match(container["image"]):
            repository = f"arn:aws:ecr:{aws.region}:{match['registry']}:repository/{match['repository']}"
            wants += [("ecr:BatchGetImage", repository), ("ecr:GetDownloadUrlForLayer", repository)]
    wants = list(dict.fromkeys(wants))
    return _judge(
        role,
        title,
        documents,
        boundary,
        wants,
        ", ".join(dict.fromkeys(a for a, _ in wants)),
        [],
    )
