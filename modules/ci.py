"""GitHub Actions' way into AWS: OpenID Connect federation and narrow roles, no static keys.

The identity provider is one per account: the first environment's ``homu-state`` creates it (every
further environment in the account looks it up) along with that environment's plan role; each
application stack adds the deploy role for its own compute and finds the provider by its URL. Every
role's name carries the environment and trusts one GitHub environment, never a branch or an event.
"""

from __future__ import annotations

import json

from constructs import Construct

from modules import aws, iam, plan_reads
from modules.policy import skip_check

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"


def github_trust(provider_arn: str, subject: str | list[str]) -> str:
    """Only tokens GitHub minted for STS, for exactly this repository and GitHub environment (or one
    of these), may assume."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": provider_arn},
                    "Condition": {
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": subject,
                        }
                    },
                }
            ],
        }
    )


class GithubPlanAccess(Construct):
    """The account's GitHub OIDC provider (created, or looked up when another environment made it)
    and this environment's plan role.

    The role reads configuration, not data (``modules/plan_reads.py``): the Describe/List/Get calls a
    refresh of these stacks makes, this environment's state objects, the image tag, and decryption
    with the state key alone. Explicit denies keep every data-plane read and every write away from it,
    whatever else is attached later: plans run with ``-lock=false`` and never hold the lock.

    Only jobs in the GitHub environment ``environment`` can assume it, and the plan workflow refuses to
    run unless required reviewers guard that environment (``tools/ci/gate.py``); and jobs in
    ``drift_environment``, where the scheduled drift check runs main's code, which refuses to run unless
    that environment admits the deploy branch alone.
    """

    provider_arn: str  # the account's GitHub OIDC identity provider
    plan_role_arn: str  # what the plan workflow assumes

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        repository: str,
        environment: str,
        drift_environment: str,
        role_name: str,
        create_provider: bool,
        state_bucket_arn: str,
        state_prefix: str,
        state_key_alias: str,
        parameter_names: list[str],
        region: str,
    ) -> None:
        super().__init__(scope, id_)
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")
        if create_provider:
            provider_arn = aws.iam_openid_connect_provider.IamOpenidConnectProvider(
                self, "github", url=GITHUB_OIDC_URL, client_id_list=[AUDIENCE]
            ).arn
        else:
            provider_arn = aws.data_aws_iam_openid_connect_provider.DataAwsIamOpenidConnectProvider(
                self, "github", url=GITHUB_OIDC_URL
            ).arn
        role = aws.iam_role.IamRole(
            self,
            "plan",
            name=role_name,
            description=f"terraform plan of {repository}, in its GitHub environments {environment} "
            f"(pull requests) and {drift_environment} (drift)",
            assume_role_policy=github_trust(
                provider_arn,
                [f"repo:{repository}:environment:{name}" for name in (environment, drift_environment)],
            ),
            max_session_duration=3600,
        )
        states = f"{state_bucket_arn}/{state_prefix}*"
        parameters = [
            f"arn:aws:ssm:{region}:{account.account_id}:parameter{name}" for name in parameter_names
        ]
        aliased = {"kms:ResourceAliases": state_key_alias}
        policy = aws.iam_role_policy.IamRolePolicy(
            self,
            "state",
            name="refresh-and-read-state",
            role=role.id,
            policy=iam.document(
                iam.statement(list(plan_reads.REFRESH_ACTIONS), ["*"], sid="Refresh"),
                iam.statement(["s3:GetObject"], [states], sid="ReadThisEnvironmentsState"),
                iam.statement(["ssm:GetParameter"], parameters, sid="ReadTheImageTag"),
                # The key's ARN is unknown when its policy names this role, so its alias scopes it.
                iam.statement(
                    ["kms:Decrypt"],
                    [f"arn:aws:kms:{region}:{account.account_id}:key/*"],
                    sid="DecryptTheState",
                    Condition={"ForAnyValue:StringEquals": aliased},
                ),
                iam.deny(list(plan_reads.DATA_PLANE_READS), sid="NoDataPlaneReads"),
                iam.deny(list(plan_reads.OBJECT_READS), sid="NoOtherObjects", not_resources=[states]),
                iam.deny(list(plan_reads.PARAMETER_READS), sid="NoOtherParameters", not_resources=parameters),
                iam.deny(list(plan_reads.WRITES), sid="NoWritesNoLocks"),
                # An empty alias list passes ForAllValues too: keys without an alias are denied as well.
                iam.deny(
                    ["kms:Decrypt"],
                    sid="DecryptNothingElse",
                    Condition={"ForAllValues:StringNotEquals": aliased},
                ),
            ),
        )
        skip_check(
            policy,
            "CKV_HOMU_8",
            "a plan refreshes resources of three stacks whose ARNs this stack cannot know (they are created "
            "later); the '*' statement holds only the Describe/List/Get calls the plans make "
            "(modules/plan_reads.py, checked against the rehearsal's plans), and data reads are denied",
        )
        self.provider_arn = provider_arn
        self.plan_role_arn = role.arn


def deploy_role(
    scope: Construct, id_: str, *, name: str, repository: str, environment: str, description: str
):
    """A role for the deploy jobs of ``repository`` that run in the GitHub environment ``environment``
    (which only the deploy branch may use: the deploy workflow checks that before it assumes this)."""
    provider = aws.data_aws_iam_openid_connect_provider.DataAwsIamOpenidConnectProvider(
        scope, f"{id_}-github", url=GITHUB_OIDC_URL
    )
    return aws.iam_role.IamRole(
        scope,
        id_,
        name=name,
        description=description,
        max_session_duration=3600,
        assume_role_policy=github_trust(provider.arn, f"repo:{repository}:environment:{environment}"),
    )


class FargateDeployAccess(Construct):
    """What backend CD needs and nothing more: push to this repository, register the task
    definition, update this service, hand it exactly its two roles, record the deployed tag."""

    role_arn: str  # what the deploy workflow assumes

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        repository: str,
        environment: str,
        role_name: str,
        ecr_repository_arn: str,
        service_arn: str,
        task_role_arns: list[str],
        image_tag_parameter_arn: str,
    ) -> None:
        super().__init__(scope, id_)
        role = deploy_role(
            self,
            "role",
            name=role_name,
            repository=repository,
            environment=environment,
            description=f"backend CD of {repository} (GitHub environment {environment}) to the Fargate service",
        )
        aws.iam_role_policy.IamRolePolicy(
            self,
            "policy",
            name="push-register-deploy",
            role=role.id,
            policy=iam.document(
                iam.statement(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
                iam.statement(
                    [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:InitiateLayerUpload",
                        "ecr:UploadLayerPart",
                        "ecr:CompleteLayerUpload",
                        "ecr:PutImage",
                        "ecr:BatchGetImage",
                    ],
                    [ecr_repository_arn],
                    sid="PushThisRepository",
                ),
                # Task definitions have no resource-level permissions for these two actions.
                iam.statement(
                    ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"], ["*"], sid="TaskDefinitions"
                ),
                iam.statement(
                    ["ecs:UpdateService", "ecs:DescribeServices"], [service_arn], sid="DeployThisService"
                ),
                iam.statement(
                    ["iam:PassRole"],
                    task_role_arns,
                    sid="PassTheTaskRoles",
                    Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                ),
                iam.statement(
                    ["ssm:GetParameter", "ssm:PutParameter"], [image_tag_parameter_arn], sid="RecordTag"
                ),
            ),
        )
        self.role_arn = role.arn


class Ec2DeployAccess(Construct):
    """The EC2 option's deploy path: Run Command on this one host with a document of its own that can
    do one thing, check out a commit of the configured repository and restart the unit. Never the
    generic ``AWS-RunShellScript``, which would run any command as root."""

    role_arn: str  # what the deploy workflow assumes
    document_name: str  # what `aws ssm send-command --document-name` names

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        repository: str,
        environment: str,
        role_name: str,
        document_name: str,
        checkout_dir: str,
        unit: str,
        instance_arn: str,
    ) -> None:
        super().__init__(scope, id_)
        role = deploy_role(
            self,
            "role",
            name=role_name,
            repository=repository,
            environment=environment,
            description=f"backend CD of {repository} (GitHub environment {environment}) to the EC2 host",
        )
        document = aws.ssm_document.SsmDocument(
            self,
            "document",
            name=document_name,
            document_type="Command",
            document_format="JSON",
            content=deploy_document(checkout_dir, unit),
        )
        aws.iam_role_policy.IamRolePolicy(
            self,
            "policy",
            name="run-the-deploy-document-on-the-host",
            role=role.id,
            policy=iam.document(
                iam.statement(["ssm:SendCommand"], [document.arn, instance_arn], sid="DeployThisHost"),
                # Reading a command's result has no resource-level permission.
                iam.statement(
                    ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"], ["*"], sid="ReadResults"
                ),
            ),
        )
        self.role_arn = role.arn
        self.document_name = document_name


# A full commit id only: the parameter reaches a shell, so nothing but hex may pass.
COMMIT_PATTERN = "^[0-9a-f]{40}$"


def deploy_document(checkout_dir: str, unit: str) -> str:
    """The SSM Command document: fetch one commit of the host's checkout, check it out, restart."""
    script = [
        "set -eu",
        f"cd {checkout_dir}",
        "git fetch --quiet --depth 1 origin '{{ commit }}'",
        "git checkout --quiet --detach FETCH_HEAD",
        f"systemctl restart {unit}",
        f"systemctl is-active {unit}",
    ]
    return json.dumps(
        {
            "schemaVersion": "2.2",
            "description": f"Deploy one commit: check it out in {checkout_dir} and restart {unit}",
            "parameters": {
                "commit": {
                    "type": "String",
                    "description": "the full id of the commit to deploy",
                    "allowedPattern": COMMIT_PATTERN,
                }
            },
            "mainSteps": [
                {"action": "aws:runShellScript", "name": "deploy", "inputs": {"runCommand": script}}
            ],
        }
    )
