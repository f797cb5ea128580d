"""GitHub OIDC federation: who may assume each CI role, and exactly what each may do."""

from __future__ import annotations

import fnmatch
import json

import pytest

from modules.ci import COMMIT_PATTERN
from modules.plan_reads import DATA_PLANE_READS, OBJECT_READS, PARAMETER_READS, REFRESH_ACTIONS, WRITES
from tests.synth import data_output
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
        assert not any("-github-" in r.get("name", "") for r in stack.resources("aws_iam_role").values())


def test_the_account_bootstrap_creates_the_github_provider_once(production):
    state = production["homu-state"]
    provider = state.resource("aws_iam_openid_connect_provider")
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    for name in ("homu-fargate", "homu-ec2"):
        assert production[name].resources("aws_iam_openid_connect_provider") == {}
        (lookup,) = production[name].data("aws_iam_openid_connect_provider").values()
        assert lookup["url"] == "https://token.actions.githubusercontent.com"


def test_a_further_environment_in_the_account_looks_the_provider_up(synth):
    state = synth(environment="staging", github_repository=REPOSITORY, github_oidc_provider="existing")[
        "homu-state"
    ]
    assert state.resources("aws_iam_openid_connect_provider") == {}
    ((name, lookup),) = state.data("aws_iam_openid_connect_provider").items()
    assert lookup["url"] == "https://token.actions.githubusercontent.com"
    statement = trust(state.named("aws_iam_role", "github/plan"))
    assert statement["Principal"] == {"Federated": f"${{data.aws_iam_openid_connect_provider.{name}.arn}}"}


def test_every_ci_role_carries_its_environment(synth):
    """Two environments in one account: no role name is shared."""
    staging = synth(environment="staging", github_repository=REPOSITORY, github_oidc_provider="existing")
    names = {
        role["name"]
        for stack in staging.stacks.values()
        for role in stack.resources("aws_iam_role").values()
        if "-github-" in role.get("name", "")
    }
    assert names == {
        "homu-staging-github-plan",
        "homu-staging-github-deploy-fargate",
        "homu-staging-github-deploy-ec2",
    }


def test_plan_role_trusts_only_jobs_in_the_plan_and_drift_environments_of_the_repository(production):
    """Not ``pull_request``: a pull request's own workflow runs with that subject, unreviewed. Only a
    job in the plan environment, which required reviewers guard, or in the drift environment, which
    admits main alone (its scheduled job would wait for reviewers every day), gets these subjects."""
    state = production["homu-state"]
    role = state.named("aws_iam_role", "github/plan")
    assert role["name"] == "homu-prod-github-plan"
    statement = trust(role)
    provider = state.address(
        "aws_iam_openid_connect_provider", state.resource("aws_iam_openid_connect_provider")
    )
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": ref(provider, "arn")}
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [
                f"repo:{REPOSITORY}:environment:infra-plan-prod",
                f"repo:{REPOSITORY}:environment:infra-drift-prod",
            ],
        }
    }


def test_plan_and_drift_environments_are_settings(synth):
    state = synth(
        github_repository=REPOSITORY, github_plan_environment="plan-prod", github_drift_environment="drift"
    )["homu-state"]
    subject = trust(state.named("aws_iam_role", "github/plan"))["Condition"]["StringEquals"]
    assert subject["token.actions.githubusercontent.com:sub"] == [
        f"repo:{REPOSITORY}:environment:plan-prod",
        f"repo:{REPOSITORY}:environment:drift",
    ]


def test_plan_role_reads_metadata_this_environments_state_and_the_image_tag_and_writes_nothing(production):
    state = production["homu-state"]
    assert (
        state.resources("aws_iam_role_policy_attachment") == {}
    )  # no ReadOnlyAccess: s3:Get* of every bucket
    # The bucket's ARN, spelled out: the state key's policy names the role before the bucket exists.
    bucket = f"arn:aws:s3:::{state.resource('aws_s3_bucket')['bucket']}"
    (identity,) = [n for n in state.data("aws_caller_identity") if n.startswith("github_account")]
    account = f"${{data.aws_caller_identity.{identity}.account_id}}"
    parameter = f"arn:aws:ssm:ap-northeast-2:{account}:parameter/homu/image-tag"
    s = statements(state, "github/state")
    assert list(s) == [
        "Refresh", "ReadThisEnvironmentsState", "ReadTheImageTag", "DecryptTheState",
        "NoDataPlaneReads", "NoOtherObjects", "NoOtherParameters", "NoWritesNoLocks", "DecryptNothingElse",
    ]  # fmt: skip
    allow = {sid: (st["Action"], st["Resource"]) for sid, st in s.items() if st["Effect"] == "Allow"}
    assert allow == {
        "Refresh": (list(REFRESH_ACTIONS), ["*"]),
        "ReadThisEnvironmentsState": (["s3:GetObject"], [f"{bucket}/prod/*"]),
        "ReadTheImageTag": (["ssm:GetParameter"], [parameter]),
        "DecryptTheState": (["kms:Decrypt"], [f"arn:aws:kms:ap-northeast-2:{account}:key/*"]),
    }
    alias = {"kms:ResourceAliases": "alias/homu-prod-state"}
    assert s["DecryptTheState"]["Condition"] == {"ForAnyValue:StringEquals": alias}
    deny = {sid: st for sid, st in s.items() if st["Effect"] == "Deny"}
    assert deny["NoDataPlaneReads"]["Action"] == list(DATA_PLANE_READS) and deny["NoDataPlaneReads"][
        "Resource"
    ] == ["*"]
    assert (deny["NoOtherObjects"]["Action"], deny["NoOtherObjects"]["NotResource"]) == (
        list(OBJECT_READS),
        [f"{bucket}/prod/*"],
    )
    assert (deny["NoOtherParameters"]["Action"], deny["NoOtherParameters"]["NotResource"]) == (
        list(PARAMETER_READS),
        [parameter],
    )
    assert (
        deny["NoWritesNoLocks"]["Action"]
        == list(WRITES)
        == ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
    )
    assert deny["DecryptNothingElse"]["Condition"] == {"ForAllValues:StringNotEquals": alias}
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


def test_the_refresh_actions_read_no_data():
    """Describe/List/Get of configuration only: none is a data-plane read, a parameter or object read,
    a write, or a credential."""
    assert REFRESH_ACTIONS and len(set(REFRESH_ACTIONS)) == len(REFRESH_ACTIONS)
    assert granted(["ec2:Describe*"], "ec2:DescribeVpcs")  # the matching works
    for action in REFRESH_ACTIONS:
        assert "*" not in action, action
        for forbidden in (*DATA_PLANE_READS, *OBJECT_READS, *PARAMETER_READS, *WRITES, *CREDENTIAL_ACTIONS):
            assert not granted([forbidden], action), (action, forbidden)
        assert action.split(":")[1].startswith(("Describe", "List", "Get")), action


def test_plan_role_reads_no_secret_value(production):
    """No Allow grants an action that reads or makes a credential, but the state key's Decrypt,
    conditioned on that key's alias; the denies name each of them."""
    for sid, statement in statements(production["homu-state"], "github/state").items():
        for action in CREDENTIAL_ACTIONS:
            if statement["Effect"] == "Allow" and granted(statement["Action"], action):
                assert (sid, action) == ("DecryptTheState", "kms:Decrypt") and statement["Condition"]
    for action in CREDENTIAL_ACTIONS[:3]:
        assert granted(list(DATA_PLANE_READS), action)


def test_fargate_deploy_role_trusts_only_the_production_environment_of_the_repository(production):
    stack = production["homu-fargate"]
    role = stack.named("aws_iam_role", "github-deploy/role")
    assert role["name"] == "homu-prod-github-deploy-fargate"
    statement = trust(role)
    (lookup,) = stack.data("aws_iam_openid_connect_provider")
    assert statement["Principal"] == {"Federated": f"${{data.aws_iam_openid_connect_provider.{lookup}.arn}}"}
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:production",
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
    task = data_output("task_role_arn")
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


def test_ec2_deploy_role_runs_only_the_deploy_document_on_this_host(production):
    stack = production["homu-ec2"]
    assert (
        trust(stack.named("aws_iam_role", "github-deploy/role"))["Condition"]["StringEquals"][
            "token.actions.githubusercontent.com:sub"
        ]
        == f"repo:{REPOSITORY}:environment:production"
    )
    s = statements(stack, "github-deploy/policy")
    instance = ref(stack.address("aws_instance", stack.resource("aws_instance")), "arn")
    document = stack.resource("aws_ssm_document")
    assert s["DeployThisHost"]["Action"] == ["ssm:SendCommand"]
    assert s["DeployThisHost"]["Resource"] == [
        ref(stack.address("aws_ssm_document", document), "arn"),
        instance,
    ]
    assert not any("AWS-RunShellScript" in json.dumps(st) for st in s.values())
    assert s["ReadResults"]["Action"] == ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"]
    assert stack.outputs["deploy_document"]["value"] == document["name"] == "homu-prod-deploy"


def test_the_deploy_document_checks_out_one_commit_and_restarts_the_unit(production):
    document = production["homu-ec2"].resource("aws_ssm_document")
    assert (document["document_type"], document["document_format"]) == ("Command", "JSON")
    content = json.loads(document["content"])
    assert content["parameters"] == {
        "commit": {
            "type": "String",
            "description": "the full id of the commit to deploy",
            "allowedPattern": COMMIT_PATTERN,
        }
    }
    (step,) = content["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    # Compose runs only through the unit, whose COMPOSE_FILE keeps the logging override (test_ec2_host).
    assert step["inputs"]["runCommand"] == [
        "set -eu",
        "cd /opt/homu/app",
        "git fetch --quiet --depth 1 origin '{{ commit }}'",
        "git checkout --quiet --detach FETCH_HEAD",
        "systemctl restart homu-backend.service",
        "systemctl is-active homu-backend.service",
    ]


@pytest.mark.parametrize("commit", ["0123456789abcdef0123456789abcdef01234567"])
def test_the_commit_pattern_admits_a_full_commit_id(commit):
    import re

    assert re.fullmatch(COMMIT_PATTERN.strip("^$"), commit)


@pytest.mark.parametrize(
    "value", ["main", "0123456", "$(reboot)", "0123456789abcdef0123456789abcdef01234567;id"]
)
def test_the_commit_pattern_refuses_anything_else(value):
    import re

    assert re.search(COMMIT_PATTERN, value) is None


def test_deploy_environment_is_a_setting(synth):
    stack = synth(github_repository="acme/shop", github_deploy_environment="release")["homu-fargate"]
    sub = trust(stack.named("aws_iam_role", "github-deploy/role"))["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"
    ]
    assert sub == "repo:acme/shop:environment:release"


def test_a_non_production_environment_deploys_from_its_own_github_environment(synth):
    stack = synth(github_repository="acme/shop")["homu-ec2"]
    sub = trust(stack.named("aws_iam_role", "github-deploy/role"))["Condition"]["StringEquals"]
    assert sub["token.actions.githubusercontent.com:sub"] == "repo:acme/shop:environment:dev"


@pytest.mark.parametrize("value", ["homu", "https://github.com/a/b", "a/b/c"])
def test_repository_must_be_owner_slash_name(tmp_path, value):
    from modules.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "cdktf.json", {"HOMU_GITHUB_REPOSITORY": value})
    assert caught.value.lines[0].startswith("setting github_repository (HOMU_GITHUB_REPOSITORY)")
