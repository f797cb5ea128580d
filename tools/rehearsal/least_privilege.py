"""Least privilege, proven on the emulator with IAM enforced (what that proves: emulator/iam.py).

The plan role's own policies must be enough for ``terraform plan`` of every stack, and a copy of
the role with one permission taken away must not be: the second shows the enforcement is on. The
deploy roles must be enough for what backend CD calls, and one compute's deploy role must be refused
the other's deployment.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from tools.rehearsal.errors import CheckFailed

READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@dataclass(frozen=True)
class Removal:
    """One permission taken from a copy of the plan role, and what the refused plan must name."""

    label: str
    statement: str | None = None  # Sid of an inline statement to drop
    managed_action: str | None = None  # an action pattern to drop from a copy of ReadOnlyAccess
    refusal: str = ""  # text the failed plan's output must contain


# One resource-scoped S3 permission (reading the state is in ReadOnlyAccess too; writing the lock is
# not) and one service-wide action of ReadOnlyAccess.
REMOVALS = (
    Removal("without the lock", statement="Lock", refusal="AccessDenied"),
    Removal("without rds:Describe*", managed_action="rds:Describe*", refusal="to perform: rds:Describe"),
)


def role_without(client: Any, role_arn: str, removal: Removal) -> str:
    """A new role with ``role_arn``'s trust, inline policies and managed policies, minus ``removal``;
    managed policies become inline copies when an action is taken out of one."""
    iam = client("iam")
    name = role_arn.rsplit("/", 1)[-1]
    role = iam.get_role(RoleName=name)["Role"]
    copy = f"{name}-{secrets.token_hex(3)}"
    trust = role["AssumeRolePolicyDocument"]
    iam.create_role(
        RoleName=copy, AssumeRolePolicyDocument=trust if isinstance(trust, str) else json.dumps(trust)
    )
    found = False
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = _document(iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"])
        kept = [s for s in document["Statement"] if s.get("Sid") != removal.statement]
        found |= len(kept) != len(document["Statement"])
        iam.put_role_policy(
            RoleName=copy, PolicyName=policy_name, PolicyDocument=json.dumps({**document, "Statement": kept})
        )
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        if removal.managed_action and attached["PolicyArn"] == READ_ONLY_ACCESS:
            document = _managed_document(iam, attached["PolicyArn"])
            for statement in document["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                found |= removal.managed_action in actions
                statement["Action"] = [a for a in actions if a != removal.managed_action]
            iam.put_role_policy(
                RoleName=copy, PolicyName="read-only-copy", PolicyDocument=json.dumps(document)
            )
        else:
            iam.attach_role_policy(RoleName=copy, PolicyArn=attached["PolicyArn"])
    if not found:
        raise CheckFailed(f"{name} has no {removal.statement or removal.managed_action} to take away")
    return role["Arn"].rsplit("/", 1)[0] + "/" + copy


def _document(document: Any) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else document


def _managed_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _document(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


# --- what backend CD calls --------------------------------------------------------------------------


def fargate_deploy(client: Any, outputs: dict[str, Any], image_tag: str) -> str:
    """backend-cd.yml's AWS calls for the Fargate service, signed by ``client``'s role: log in to ECR,
    put an image, read the deployed task definition, register the new one, update the service, wait
    on it, record the tag. The image layers' upload APIs are not emulated; PutImage stands for them."""
    ecr, ecs, ssm = client("ecr"), client("ecs"), client("ssm")
    ecr.get_authorization_token()
    repository = outputs["ecr_repository_url"].split("/", 1)[1]
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    )
    ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=image_tag)
    cluster, service = outputs["cluster_name"], outputs["service_name"]
    (deployed,) = ecs.describe_services(cluster=cluster, services=[service])["services"]
    definition = ecs.describe_task_definition(taskDefinition=deployed["taskDefinition"])["taskDefinition"]
    containers = [
        {**c, "image": f"{outputs['ecr_repository_url']}:{image_tag}"}
        for c in definition["containerDefinitions"]
    ]
    keys = (
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "volumes",
    )
    registered = ecs.register_task_definition(
        **{k: definition[k] for k in keys if k in definition}, containerDefinitions=containers
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=registered)
    ecs.describe_services(cluster=cluster, services=[service])
    ssm.put_parameter(Name=outputs["image_tag_parameter"], Value=image_tag, Overwrite=True, Type="String")
    return registered.rsplit("/", 1)[-1]


def ec2_deploy(client: Any, outputs: dict[str, Any]) -> str:
    """The EC2 option's deploy (README "CI/CD"): Run Command on the host, then its result."""
    ssm = client("ssm")
    command = ssm.send_command(
        DocumentName="AWS-RunShellScript",
        InstanceIds=[outputs["instance_id"]],
        Parameters={"commands": ["cd /opt/homu/app && git pull && systemctl restart homu-backend"]},
    )["Command"]["CommandId"]
    ssm.list_command_invocations(CommandId=command)
    return command


def refused(call: Any) -> str:
    """The error code of ``call()``, which must be refused for want of permission."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if "AccessDenied" in code or code == "UnauthorizedOperation":
            return code
        raise
    raise CheckFailed("the call was allowed; it should have been refused")
