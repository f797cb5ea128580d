"""IAM enforcement on the emulator: role sessions get what their policies allow and nothing else,
shown against a real in-process moto with boto3. The production lane plans the real stacks as the
plan role, and is refused with one permission fewer (tests/test_rehearsal.py)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tools.rehearsal.emulator import Emulator
from tools.rehearsal.emulator.iam import Call

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
READABLE, OTHER = "homu-iam-readable", "homu-iam-other"
# GitHub's way in; moto does not evaluate it (AssumeRoleWithWebIdentity passes whatever it says).
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
)
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
TAG, SECRET = "/homu/image-tag", "/other/secret"
PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"


def _statement(effect: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": actions, "Resource": resources, **extra}


# service, operation, its arguments, the IAM action AWS checks, the denial's code in that protocol
CALLS = [
    ("ec2", "describe_vpcs", {}, "ec2:DescribeVpcs", "UnauthorizedOperation"),
    ("rds", "describe_db_instances", {}, "rds:DescribeDBInstances", "AccessDenied"),
    ("elasticache", "describe_cache_clusters", {}, "elasticache:DescribeCacheClusters", "AccessDenied"),
    ("kms", "list_keys", {}, "kms:ListKeys", "AccessDeniedException"),
    (
        "secretsmanager",
        "get_secret_value",
        {"SecretId": "homu/iam-probe"},
        "secretsmanager:GetSecretValue",
        "AccessDeniedException",
    ),
    ("ecs", "list_clusters", {}, "ecs:ListClusters", "AccessDeniedException"),
    ("ecr", "describe_repositories", {}, "ecr:DescribeRepositories", "AccessDeniedException"),
    ("ssm", "get_parameter", {"Name": "/homu/iam-probe"}, "ssm:GetParameter", "AccessDeniedException"),
    ("logs", "describe_log_groups", {}, "logs:DescribeLogGroups", "AccessDeniedException"),
    ("cloudwatch", "describe_alarms", {}, "cloudwatch:DescribeAlarms", "AccessDenied"),
    ("route53", "list_hosted_zones", {}, "route53:ListHostedZones", "AccessDenied"),
    ("sns", "list_topics", {}, "sns:ListTopics", "AccessDenied"),
    ("elbv2", "describe_load_balancers", {}, "elasticloadbalancing:DescribeLoadBalancers", "AccessDenied"),
    ("iam", "list_roles", {}, "iam:ListRoles", "AccessDenied"),
]
ROLES = {
    "reader": [
        _statement("Allow", ["s3:ListBucket"], [f"arn:aws:s3:::{READABLE}"]),
        _statement("Allow", ["s3:GetObject"], [f"arn:aws:s3:::{READABLE}/*"]),
    ],
    "narrow": [_statement("Allow", ["s3:ListAllMyBuckets"], ["*"])],
    # Every action of CALLS, scoped to the parameter SSM's call reads: the other services name no resource.
    "granted": [_statement("Allow", [call[3] for call in CALLS], [f"{PARAMETER}/homu/iam-probe"])],
    "deny-wins": [
        _statement("Allow", ["*"], ["*"]),
        _statement("Deny", ["ec2:CreateVpc"], ["*"]),
        {"Effect": "Deny", "Action": ["s3:GetObject"], "NotResource": [f"arn:aws:s3:::{READABLE}/*"]},
    ],
    "not-iam": [{"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}],
    "ssm-scoped": [
        _statement(
            "Allow",
            ["ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:AddTagsToResource"],
            [PARAMETER + TAG],
        ),
        _statement("Allow", ["ssm:GetParametersByPath"], [f"{PARAMETER}/homu"]),
        _statement("Allow", ["ec2:DescribeVpcs"], ["*"]),
    ],
    "ssm-not-resource": [
        _statement("Allow", ["ssm:*"], ["*"]),
        {
            "Effect": "Deny",
            "Action": [
                "ssm:GetParameter",
                "ssm:GetParameterHistory",
                "ssm:LabelParameterVersion",
                "ssm:ListTagsForResource",
                "ssm:RemoveTagsFromResource",
            ],
            "NotResource": [PARAMETER + TAG],
        },
    ],
}


@pytest.fixture(scope="module")
def emulator():
    with Emulator(REGION) as running:
        iam = running.client("iam")
        for name, statements in ROLES.items():
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
            iam.put_role_policy(
                RoleName=name,
                PolicyName="policy",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
        iam.create_role(RoleName="read-only", AssumeRolePolicyDocument=TRUST)
        iam.attach_role_policy(RoleName="read-only", PolicyArn=READ_ONLY)
        s3 = running.client("s3")
        for bucket in (READABLE, OTHER):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_object(Bucket=bucket, Key="state", Body=b"{}")
        running.client("secretsmanager").create_secret(Name="homu/iam-probe", SecretString="s")
        for name in ("/homu/iam-probe", TAG, SECRET):
            running.client("ssm").put_parameter(Name=name, Value="v1", Type="String")
        yield running


@pytest.fixture
def enforced(emulator):
    with emulator.iam_enforced():
        yield emulator


def _as(emulator: Emulator, role: str, service: str) -> Any:
    return emulator.client(service, emulator.role_environment(f"arn:aws:iam::{ACCOUNT}:role/{role}"))


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response["Error"]["Code"]


def test_a_role_reads_its_state_bucket_and_no_other(enforced):
    s3 = _as(enforced, "reader", "s3")
    s3.head_bucket(Bucket=READABLE)  # AWS checks HEAD bucket as s3:ListBucket; moto alone as s3:HeadBucket
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=READABLE)["Contents"]] == ["state"]
    assert s3.get_object(Bucket=READABLE, Key="state")["Body"].read() == b"{}"
    for call in (
        lambda: s3.head_bucket(Bucket=OTHER),
        lambda: s3.list_objects_v2(Bucket=OTHER),
        lambda: s3.get_object(Bucket=OTHER, Key="state"),
        lambda: s3.put_object(Bucket=READABLE, Key="state", Body=b"changed"),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_read_only_access_describes_but_creates_nothing(enforced):
    ec2 = _as(enforced, "read-only", "ec2")
    ec2.describe_vpcs()
    with pytest.raises(ClientError) as denied:
        ec2.create_vpc(CidrBlock="10.40.0.0/16")
    assert _code(denied) == "UnauthorizedOperation"
    assert "ec2:CreateVpc" in denied.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("service", "operation", "arguments", "action", "code"), CALLS, ids=[c[3] for c in CALLS]
)
def test_each_service_denies_an_action_the_role_lacks(enforced, service, operation, arguments, action, code):
    with pytest.raises(ClientError) as denied:
        getattr(_as(enforced, "narrow", service), operation)(**arguments)
    # A code the client could read (JSON services included) that names the action as IAM spells it.
    assert _code(denied) == code
    assert f"not authorized to perform: {action}" in denied.value.response["Error"]["Message"]
    # Outside S3/IAM/STS and SSM parameters the emulator knows no resource: an Allow matches on its actions,
    # whatever its Resource says (resource scoping there is not proven; see tools/rehearsal/emulator/iam.py).
    getattr(_as(enforced, "granted", service), operation)(**arguments)


def test_an_explicit_deny_wins_and_not_action_and_not_resource_hold(enforced):
    ec2 = _as(enforced, "deny-wins", "ec2")
    ec2.describe_vpcs()
    with pytest.raises(ClientError, match="UnauthorizedOperation"):
        ec2.create_vpc(CidrBlock="10.41.0.0/16")
    s3 = _as(enforced, "deny-wins", "s3")
    s3.get_object(Bucket=READABLE, Key="state")
    with pytest.raises(ClientError, match="AccessDenied"):  # moto alone let a NotResource Deny allow it
        s3.get_object(Bucket=OTHER, Key="state")
    _as(enforced, "not-iam", "ec2").describe_vpcs()
    with pytest.raises(ClientError, match="AccessDenied"):
        _as(enforced, "not-iam", "iam").list_roles()


def _denied(call: Any) -> None:
    with pytest.raises(ClientError) as denied:
        call()
    assert _code(denied) == "AccessDeniedException"


def test_an_ssm_allow_reaches_its_parameter_and_no_other(enforced):
    ssm = _as(enforced, "ssm-scoped", "ssm")
    for name in (TAG, PARAMETER + TAG, f"{TAG}:1"):  # by name, by ARN, with a version selector
        assert ssm.get_parameter(Name=name)["Parameter"]["Name"] == TAG
    ssm.put_parameter(Name=TAG, Value="v1", Type="String", Overwrite=True)
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=TAG, Tags=[{"Key": "k", "Value": "v"}])
    assert ssm.get_parameters_by_path(Path="/homu")["Parameters"]
    for call in (
        lambda: ssm.get_parameter(Name=SECRET),
        lambda: ssm.get_parameter(Name=PARAMETER + SECRET),
        lambda: ssm.put_parameter(Name=SECRET, Value="v2", Type="String", Overwrite=True),
        lambda: ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=SECRET, Tags=[{"Key": "k", "Value": "v"}]
        ),
        lambda: ssm.get_parameters_by_path(Path="/other"),
    ):
        _denied(call)


def test_get_parameters_needs_every_name_allowed(enforced):
    ssm = _as(enforced, "ssm-scoped", "ssm")
    assert [p["Name"] for p in ssm.get_parameters(Names=[TAG])["Parameters"]] == [TAG]
    _denied(lambda: ssm.get_parameters(Names=[TAG, SECRET]))
    _denied(lambda: ssm.get_parameters(Names=[SECRET, TAG]))


def test_an_ssm_deny_with_not_resource_spares_only_its_parameter(enforced):
    ssm = _as(enforced, "ssm-not-resource", "ssm")
    for operation in (
        lambda name: ssm.get_parameter(Name=name),
        lambda name: ssm.get_parameter_history(Name=name),
        lambda name: ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["seen"]),
        lambda name: ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name),
        lambda name: ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["k"]),
    ):
        operation(TAG)
        _denied(partial(operation, SECRET))
    ssm.get_parameters(Names=[SECRET])  # not an action the Deny names: the Allow holds


def test_the_action_log_holds_a_roles_decisions_in_order(emulator):
    role = f"arn:aws:iam::{ACCOUNT}:role/ssm-scoped"
    ec2, ssm = _as(emulator, "ssm-scoped", "ec2"), _as(emulator, "ssm-scoped", "ssm")
    emulator.forget_calls()
    ssm.get_parameter(Name=TAG)  # enforcement off: not recorded
    with emulator.iam_enforced():
        ec2.describe_vpcs()
        emulator.client("ssm").get_parameter(Name=SECRET)  # the admin: not recorded
        ssm.get_parameter(Name=TAG)
        _denied(lambda: ssm.get_parameter(Name=SECRET))
        _denied(lambda: ssm.get_parameters(Names=[TAG, SECRET]))
        _as(emulator, "not-iam", "ec2").describe_vpcs()  # another role: recorded under its own ARN
    ssm.get_parameter(Name=SECRET)  # off again
    assert emulator.calls(role) == [
        Call("ec2:DescribeVpcs", "*", allowed=True),
        Call("ssm:GetParameter", PARAMETER + TAG, allowed=True),
        Call("ssm:GetParameter", PARAMETER + SECRET, allowed=False),
        Call("ssm:GetParameters", PARAMETER + TAG, allowed=True),
        Call("ssm:GetParameters", PARAMETER + SECRET, allowed=False),
    ]
    assert emulator.calls(f"arn:aws:iam::{ACCOUNT}:role/not-iam") == [Call("ec2:DescribeVpcs", "*", True)]
    emulator.forget_calls()
    assert emulator.calls(role) == []


def test_admin_keys_and_web_identity_pass_and_unknown_keys_do_not(enforced):
    assert enforced.client("iam").get_role(RoleName="narrow")["Role"]["RoleName"] == "narrow"
    session = enforced.role_environment(f"arn:aws:iam::{ACCOUNT}:role/narrow")
    assert session["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    forged = {**session, "AWS_ACCESS_KEY_ID": "ASIAFORGED0000000000"}
    with pytest.raises(ClientError) as refused:
        enforced.client("kms", forged).list_keys()
    assert _code(refused) == "UnrecognizedClientException"


def test_nothing_is_checked_while_enforcement_is_off(emulator):
    _as(emulator, "narrow", "ec2").describe_vpcs()
    _as(emulator, "narrow", "s3").get_object(Bucket=OTHER, Key="state")


def _deploy_role(emulator: Emulator, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    emulator.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    emulator.client("iam").put_role_policy(
        RoleName=name,
        PolicyName="deploy",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return emulator.role_environment(f"arn:aws:iam::{ACCOUNT}:role/{name}")


def test_deploy_roles_do_backend_cd_and_nothing_else(emulator):
    """modules/ci.py's deploy roles (Fargate: push, register, update, record the tag; EC2: Run
    Command on the host) through what backend CD calls, with enforcement on."""
    ecs, ssm = emulator.client("ecs"), emulator.client("ssm")
    repository = emulator.client("ecr").create_repository(repositoryName="homu-cd")["repository"][
        "repositoryArn"
    ]
    ecs.create_cluster(clusterName="homu-cd")
    family = ecs.register_task_definition(
        family="homu-cd", containerDefinitions=[{"name": "app", "image": "a", "memory": 512}]
    )
    service = ecs.create_service(
        cluster="homu-cd",
        serviceName="backend",
        taskDefinition=family["taskDefinition"]["taskDefinitionArn"],
        desiredCount=1,
    )["service"]["serviceArn"]
    ssm.put_parameter(Name="/homu-cd/image-tag", Value="v0", Type="String")
    ec2 = emulator.client("ec2")
    image = ec2.register_image(
        Name="host",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    host = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0][
        "InstanceId"
    ]
    fargate = _deploy_role(
        emulator,
        "deploy-fargate",
        [
            _statement("Allow", ["ecr:GetAuthorizationToken"], ["*"]),
            _statement(
                "Allow",
                ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:PutImage"],
                [repository],
            ),
            _statement("Allow", ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], ["*"]),
            _statement("Allow", ["ecs:UpdateService", "ecs:DescribeServices"], [service]),
            _statement(
                "Allow",
                ["ssm:GetParameter", "ssm:PutParameter"],
                [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/homu-cd/image-tag"],
            ),
        ],
    )
    host_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{host}"
    on_host = _deploy_role(
        emulator,
        "deploy-ec2",
        [
            _statement(
                "Allow", ["ssm:SendCommand"], [f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript", host_arn]
            ),
            _statement("Allow", ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"], ["*"]),
        ],
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "layers": [],
        }
    )
    with emulator.iam_enforced():
        ecr = emulator.client("ecr", fargate)
        ecr.get_authorization_token()
        ecr.initiate_layer_upload(repositoryName="homu-cd")
        ecr.put_image(repositoryName="homu-cd", imageManifest=manifest, imageTag="v1")
        as_fargate = emulator.client("ecs", fargate)
        revision = as_fargate.register_task_definition(
            family="homu-cd", containerDefinitions=[{"name": "app", "image": "a:v1", "memory": 512}]
        )["taskDefinition"]["taskDefinitionArn"]
        as_fargate.update_service(cluster="homu-cd", service="backend", taskDefinition=revision)
        described = as_fargate.describe_services(cluster="homu-cd", services=["backend"])["services"]
        assert described[0]["taskDefinition"] == revision
        emulator.client("ssm", fargate).put_parameter(
            Name="/homu-cd/image-tag", Value="v1", Type="String", Overwrite=True
        )
        with pytest.raises(ClientError, match="AccessDeniedException"):
            as_fargate.delete_service(cluster="homu-cd", service="backend")
        with pytest.raises(ClientError, match="AccessDeniedException"):
            emulator.client("ssm", fargate).delete_parameter(Name="/homu-cd/image-tag")
        # The deploy command of docs/ci-cd.md: targets by instance id, then the result.
        run = emulator.client("ssm", on_host)
        command = run.send_command(
            DocumentName="AWS-RunShellScript",
            Targets=[{"Key": "InstanceIds", "Values": [host]}],
            Parameters={"commands": ["systemctl restart homu-backend"]},
        )["Command"]
        assert command["InstanceIds"] == [host]
        [invocation] = run.list_command_invocations(CommandId=command["CommandId"], Details=True)[
            "CommandInvocations"
        ]
        assert (invocation["InstanceId"], invocation["Status"]) == (host, "Success")
        with pytest.raises(ClientError, match="AccessDeniedException"):
            run.put_parameter(Name="/homu-cd/image-tag", Value="v2", Type="String", Overwrite=True)
    assert emulator.errors == []


# A stack on an S3 backend, with what the plan role's refresh reads: a bucket (HEAD bucket), an alarm
# (checked as cloudwatch:*) and a secret version (GetSecretValue). (Route 53's GETs: CALLS above; a
# hosted zone costs this test 30 s of the provider's waits.)
