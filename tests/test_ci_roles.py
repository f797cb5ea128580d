"""GitHub OIDC federation: who may assume each CI role, and exactly what each may do."""

from __future__ import annotations

import fnmatch
import json

import pytest

from tools.tfjson import Stack, ref

REPOSITORY = "homu-team/homu"


def trust(role: dict) -> dict:
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    return statement


def statements(stack: Stack, path: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(stack.named("aws_iam_role_policy", path)["policy"])["Statement"]}


def test_no_ci_roles_without_a_configured_repository(default):
    for stack in default.stacks.values():
        assert stack.resources("aws_iam_openid_connect_provider") == {}
        assert not any(
            r.get("name", "").startswith("homu-github") for r in stack.resources("aws_iam_role").values()
        )


def test_the_account_bootstrap_creates_the_github_provider_once(production):
    state = production["homu-state"]
    provider = state.resource("aws_iam_openid_connect_provider")
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    for name in ("homu-fargate", "homu-ec2"):
        assert production[name].resources("aws_iam_openid_connect_provider") == {}
        (lookup,) = production[name].data("aws_iam_openid_connect_provider").values()
        assert lookup["url"] == "https://token.actions.githubusercontent.com"


def test_plan_role_trusts_only_jobs_in_the_plan_environment_of_the_repository(production):
    """Not ``pull_request``: a pull request's own workflow runs with that subject, unreviewed. Only a
    job in the environment, which required reviewers guard, gets this subject."""
    state = production["homu-state"]
    role = state.named("aws_iam_role", "github/plan")
    statement = trust(role)
    provider = state.address(
        "aws_iam_openid_connect_provider", state.resource("aws_iam_openid_connect_provider")
    )
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": ref(provider, "arn")}
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:infra-plan",
        }
    }


def test_plan_environment_is_a_setting(synth):
    state = synth(github_repository=REPOSITORY, github_plan_environment="plan-prod")["homu-state"]
    subject = trust(state.named("aws_iam_role", "github/plan"))["Condition"]["StringEquals"]
    assert subject["token.actions.githubusercontent.com:sub"] == f"repo:{REPOSITORY}:environment:plan-prod"


def test_plan_role_reads_everything_but_writes_only_lock_files(production):
    state = production["homu-state"]
    attachment = state.named("aws_iam_role_policy_attachment", "github/read-only")
    assert attachment["policy_arn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    # The bucket's ARN, spelled out: the state key's policy names the role before the bucket exists.
    bucket = f"arn:aws:s3:::{state.resource('aws_s3_bucket')['bucket']}"
    s = statements(state, "github/state")
    assert set(s) == {"ListState", "ReadState", "Lock", "UseTheStateKey"}
    assert (s["ListState"]["Action"], s["ListState"]["Resource"]) == (["s3:ListBucket"], [bucket])
    assert (s["ReadState"]["Action"], s["ReadState"]["Resource"]) == (["s3:GetObject"], [f"{bucket}/*"])
    assert (s["Lock"]["Action"], s["Lock"]["Resource"]) == (
        ["s3:PutObject", "s3:DeleteObject"],
        [f"{bucket}/*.tflock"],
    )
    # Reading the state and writing the lock object, with this environment's state key alone.
    assert (s["UseTheStateKey"]["Action"], s["UseTheStateKey"]["Condition"]) == (
        ["kms:Decrypt", "kms:GenerateDataKey"],
        {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/homu-prod-state"}},
    )
    assert state.outputs["github_plan_role_arn"]["value"] == ref(
        state.address("aws_iam_role", state.named("aws_iam_role", "github/plan")), "arn"
    )


# What reads or makes a credential of this system: RDS's secret, SECRET_KEY, a Redis token, and the
# decryption of a secret outside the state key (a SecureString, say).
CREDENTIAL_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "kms:GenerateMac",
    "elasticache:Connect",
    "kms:Decrypt",
)


def granted(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def test_plan_role_reads_no_secret_value(production):
    """Neither the role's own statements nor AWS's ReadOnlyAccess (moto's copy of AWS's document)
    grant an action that reads or makes a credential; the state key's Decrypt is the one exception,
    and it is conditioned on that key's alias."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    state = production["homu-state"]
    attachments = [a["policy_arn"] for a in state.resources("aws_iam_role_policy_attachment").values()]
    assert attachments == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    read_only = json.loads(aws_managed_policies_data)["ReadOnlyAccess"]["Document"]["Statement"]
    read_only_actions = [a for s in read_only if s["Effect"] == "Allow" for a in s["Action"]]
    assert granted(read_only_actions, "ec2:DescribeVpcs")  # the matching works
    for action in CREDENTIAL_ACTIONS:
        assert not granted(read_only_actions, action), action
    own = statements(state, "github/state")
    for sid, statement in own.items():
        for action in CREDENTIAL_ACTIONS:
            if granted(statement["Action"], action):
                assert (sid, action) == ("UseTheStateKey", "kms:Decrypt") and statement["Condition"]


def test_fargate_deploy_role_trusts_only_main_of_the_repository(production):
    stack = production["homu-fargate"]
    statement = trust(stack.named("aws_iam_role", "github-deploy/role"))
    (lookup,) = stack.data("aws_iam_openid_connect_provider")
    assert statement["Principal"] == {"Federated": f"${{data.aws_iam_openid_connect_provider.{lookup}.arn}}"}
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:ref:refs/heads/main",
    }


def test_fargate_deploy_role_can_push_this_repository_and_update_this_service_only(production):
    stack = production["homu-fargate"]
    s = statements(stack, "github-deploy/policy")
    registry = ref(stack.address("aws_ecr_repository", stack.resource("aws_ecr_repository")), "arn")
    service = ref(stack.address("aws_ecs_service", stack.resource("aws_ecs_service")))
    parameter = ref(stack.address("aws_ssm_parameter", stack.resource("aws_ssm_parameter")), "arn")
    execution = ref(
        stack.address("aws_iam_role", stack.named("aws_iam_role", "service/execution-role")), "arn"
    )
    task = ref(stack.address("aws_iam_role", stack.named("aws_iam_role", "service/task-role")), "arn")
    assert s["EcrLogin"]["Resource"] == ["*"] and s["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert s["PushThisRepository"]["Resource"] == [registry]
    assert {
        "ecr:PutImage",
        "ecr:CompleteLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:InitiateLayerUpload",
    } <= set(s["PushThisRepository"]["Action"])
    assert s["TaskDefinitions"]["Action"] == ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"]
    assert s["DeployThisService"] == {
        "Sid": "DeployThisService",
        "Effect": "Allow",
        "Action": ["ecs:UpdateService", "ecs:DescribeServices"],
        "Resource": [service],
    }
    assert s["PassTheTaskRoles"]["Resource"] == [execution, task]
    assert s["PassTheTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert s["RecordTag"]["Resource"] == [parameter]
    # "*" only where AWS has no resource-level permission.
    assert {sid for sid, st in s.items() if "*" in st["Resource"]} == {"EcrLogin", "TaskDefinitions"}


def test_ec2_deploy_role_runs_commands_on_this_host_only(production):
    stack = production["homu-ec2"]
    assert (
        trust(stack.named("aws_iam_role", "github-deploy/role"))["Condition"]["StringEquals"][
            "token.actions.githubusercontent.com:sub"
        ]
        == f"repo:{REPOSITORY}:ref:refs/heads/main"
    )
    s = statements(stack, "github-deploy/policy")
    instance = ref(stack.address("aws_instance", stack.resource("aws_instance")), "arn")
    assert s["RunOnThisHost"]["Action"] == ["ssm:SendCommand"]
    assert s["RunOnThisHost"]["Resource"] == [
        "arn:aws:ssm:ap-northeast-2::document/AWS-RunShellScript",
        instance,
    ]
    assert s["ReadResults"]["Action"] == ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"]


def test_deploy_ref_is_a_setting(synth):
    stack = synth(github_repository="acme/shop", github_deploy_ref="refs/tags/release")["homu-fargate"]
    sub = trust(stack.named("aws_iam_role", "github-deploy/role"))["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"
    ]
    assert sub == "repo:acme/shop:ref:refs/tags/release"


@pytest.mark.parametrize("value", ["homu", "https://github.com/a/b", "a/b/c"])
def test_repository_must_be_owner_slash_name(tmp_path, value):
    from modules.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "cdktf.json", {"HOMU_GITHUB_REPOSITORY": value})
    assert caught.value.lines[0].startswith("setting github_repository (HOMU_GITHUB_REPOSITORY)")
