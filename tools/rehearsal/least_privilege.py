"""Least privilege, proven on the emulator with IAM enforced (what that proves: emulator/iam.py).

The plan role's own policies must be enough for ``terraform plan -lock=false`` of every stack, a copy
of the role with one permission taken away must not be (the enforcement is on), every action it is
granted to refresh with must be one the plans called (``modules/plan_reads.py``), and the data it
must not read must be refused. The deploy roles must be enough for what backend CD calls, and one
compute's deploy role must be refused the other's deployment.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modules.plan_reads import REFRESH_ACTIONS
from tools.rehearsal.emulator.iam import Call
from tools.rehearsal.errors import CheckFailed

# What the plan role reads through statements of their own, scoped to resources (modules/ci.py), and
# what AWS always allows; the rest of what a plan calls must be REFRESH_ACTIONS, exactly.
SCOPED_READS = frozenset({"s3:GetObject", "ssm:GetParameter", "kms:Decrypt", "sts:GetCallerIdentity"})


@dataclass(frozen=True)
class Removal:
    """One permission taken from a copy of the plan role, and what the refused plan must name."""

    label: str
    statement: str | None = None  # Sid of an inline statement to drop
    action: str | None = None  # an action to drop from every inline statement
    refusal: str = ""  # text the failed plan's output must contain


# One resource-scoped S3 read (the state) and one refresh call.
REMOVALS = (
    Removal("without reading the state", statement="ReadThisEnvironmentsState", refusal="StatusCode: 403"),
    Removal(
        "without rds:DescribeDBInstances",
        action="rds:DescribeDBInstances",
        refusal="to perform: rds:DescribeDBInstances",
    ),
)


def role_without(client: Any, role_arn: str, removal: Removal) -> str:
    """A new role with ``role_arn``'s trust, inline policies and managed policies, minus ``removal``."""
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
        kept = []
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement.get("Sid") == removal.statement:
                found = True
            elif removal.action in actions and statement["Effect"] == "Allow":
                found = True
                kept.append({**statement, "Action": [a for a in actions if a != removal.action]})
            else:
                kept.append(statement)
        iam.put_role_policy(
            RoleName=copy, PolicyName=policy_name, PolicyDocument=json.dumps({**document, "Statement": kept})
        )
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.attach_role_policy(RoleName=copy, PolicyArn=attached["PolicyArn"])
    if not found:
        raise CheckFailed(f"{name} has no {removal.statement or removal.action} to take away")
    return role["Arn"].rsplit("/", 1)[0] + "/" + copy


def check_refresh_actions(calls: dict[str, list[Call]]) -> str:
    """The plans of every stack were refused nothing, and called each refresh action the role has."""
    denied = sorted(
        {f"{c.action} on {c.resource}" for stack in calls.values() for c in stack if not c.allowed}
    )
    if denied:
        raise CheckFailed(f"the plan role was refused {', '.join(denied)} (the plans went on without it)")
    refresh = {c.action for stack in calls.values() for c in stack} - SCOPED_READS
    unused, missing = sorted(set(REFRESH_ACTIONS) - refresh), sorted(refresh - set(REFRESH_ACTIONS))
    if unused or missing:
        raise CheckFailed(
            "modules/plan_reads.py REFRESH_ACTIONS is not what the plans call: "
            f"granted, never called: {unused or 'none'}; called, not listed: {missing or 'none'}"
        )
    per_stack = ", ".join(f"{stack} {len({c.action for c in made})}" for stack, made in calls.items())
    return f"{len(refresh)} refresh actions, each called ({per_stack}); nothing refused"


def check_data_reads_refused(client: Any, admin: Any, *, bucket: str, environment: str) -> str:
    """As the plan role (``client``), each data-plane read and write a plan never needs is refused;
    ``admin`` first makes what each one would read exist."""
    s3, ssm, logs = admin("s3"), admin("ssm"), admin("logs")
    s3.put_object(Bucket=bucket, Key="other/homu-data/terraform.tfstate", Body=b"{}")
    ssm.put_parameter(Name="/other/secret", Value="s3cr3t", Type="String", Overwrite=True)
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    secret_arns = [s["ARN"] for s in admin("secretsmanager").list_secrets()["SecretList"]]
    lock = f"{environment}/homu-data/terraform.tfstate.tflock"
    probes: dict[str, Callable[[], Any]] = {
        "another environment's state": lambda: client("s3").get_object(
            Bucket=bucket, Key="other/homu-data/terraform.tfstate"
        ),
        "writing a lock": lambda: client("s3").put_object(Bucket=bucket, Key=lock, Body=b"{}"),
        "deleting a lock": lambda: client("s3").delete_object(Bucket=bucket, Key=lock),
        "another parameter": lambda: client("ssm").get_parameter(Name="/other/secret"),
        "log events": lambda: client("logs").filter_log_events(logGroupName=groups[0]),
        "the database's secret": lambda: client("secretsmanager").get_secret_value(SecretId=secret_arns[0]),
    }
    return "refused: " + "; ".join(f"{label} ({refused(probe)})" for label, probe in probes.items())


def _document(document: Any) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else document


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
    registered = switch_image(ecs, cluster, service, f"{outputs['ecr_repository_url']}:{image_tag}")
    ecs.describe_services(cluster=cluster, services=[service])
    ssm.put_parameter(Name=outputs["image_tag_parameter"], Value=image_tag, Overwrite=True, Type="String")
    return registered.rsplit("/", 1)[-1]


def switch_image(ecs: Any, cluster: str, service: str, image: str) -> str:
    """What a deploy of an image does to the service: a new revision of the deployed task definition
    in which every container runs ``image``, and the service moved to it. Returns the revision's ARN."""
    (deployed,) = ecs.describe_services(cluster=cluster, services=[service])["services"]
    definition = ecs.describe_task_definition(taskDefinition=deployed["taskDefinition"])["taskDefinition"]
    containers = [{**c, "image": image} for c in definition["containerDefinitions"]]
    keys = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu",
            "memory", "volumes")  # fmt: skip
    registered = ecs.register_task_definition(
        **{k: definition[k] for k in keys if k in definition}, containerDefinitions=containers
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=cluster, service=service, taskDefinition=registered)
    return registered


def ec2_deploy(client: Any, outputs: dict[str, Any]) -> str:
    """The EC2 option's deploy (docs/ci-cd.md): the deploy document on the host, then its result."""
    ssm = client("ssm")
    command = ssm.send_command(
        DocumentName=outputs["deploy_document"],
        InstanceIds=[outputs["instance_id"]],
        Parameters={"commit": ["0123456789abcdef0123456789abcdef01234567"]},
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
