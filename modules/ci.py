"""GitHub Actions' way into AWS: OpenID Connect federation and narrow roles, no static keys.

The identity provider is one per account, so ``homu-state`` (the account bootstrap) creates it along
with the read-only plan role; each application stack adds the deploy role for its own compute and
finds the provider by its URL.
"""

from __future__ import annotations

import json

from constructs import Construct

from modules import aws, iam

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"


def github_trust(provider_arn: str, subject: str) -> str:
    """Only tokens GitHub minted for STS, for exactly this repository and ref/event, may assume."""
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
    """The account's GitHub OIDC provider and the role pull requests plan with.

    Plan refreshes every resource, so the role has AWS's ``ReadOnlyAccess`` plus what that leaves
    out: the state objects, their lock files and the state key. It reads no secret value
    (``ReadOnlyAccess`` has no ``secretsmanager:GetSecretValue``, no ``kms:GenerateMac``, and this
    role decrypts with the state key alone) and can change nothing but its own lock files.

    Only jobs that run in the GitHub environment ``environment`` can assume it: a workflow a pull
    request edits runs without that environment (and so without credentials) unless a maintainer
    approves the job, which the environment's required reviewers enforce (README "CI/CD").
    """

    provider_arn: str  # the account's GitHub OIDC identity provider, which the deploy roles trust too
    plan_role_arn: str  # what the plan workflow assumes

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        repository: str,
        environment: str,
        state_bucket_arn: str,
        state_key_alias: str,
        region: str,
    ) -> None:
        super().__init__(scope, id_)
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")
        provider = aws.iam_openid_connect_provider.IamOpenidConnectProvider(
            self, "github", url=GITHUB_OIDC_URL, client_id_list=[AUDIENCE]
        )
        role = aws.iam_role.IamRole(
            self,
            "plan",
            name="homu-github-plan",
            description=f"terraform plan of {repository}, in its GitHub environment {environment}",
            assume_role_policy=github_trust(provider.arn, f"repo:{repository}:environment:{environment}"),
            max_session_duration=3600,
        )
        aws.iam_role_policy_attachment.IamRolePolicyAttachment(
            self, "read-only", role=role.name, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
        aws.iam_role_policy.IamRolePolicy(
            self,
            "state",
            name="state-and-locks",
            role=role.id,
            policy=iam.document(
                iam.statement(["s3:ListBucket"], [state_bucket_arn], sid="ListState"),
                iam.statement(["s3:GetObject"], [f"{state_bucket_arn}/*"], sid="ReadState"),
                # Plan takes the S3-native lock: it writes and deletes <key>.tflock, nothing else.
                iam.statement(
                    ["s3:PutObject", "s3:DeleteObject"], [f"{state_bucket_arn}/*.tflock"], sid="Lock"
                ),
                # The state is encrypted with its own key, and the lock object is written with it too.
                # (The key's ARN is unknown when its policy names this role, so its alias scopes it.)
                iam.statement(
                    ["kms:Decrypt", "kms:GenerateDataKey"],
                    [f"arn:aws:kms:{region}:{account.account_id}:key/*"],
                    sid="UseTheStateKey",
                    Condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": state_key_alias}},
                ),
            ),
        )
        self.provider_arn = provider.arn
        self.plan_role_arn = role.arn


def deploy_role(scope: Construct, id_: str, *, name: str, repository: str, ref: str, description: str):
    """A role for the deploy workflow of ``repository``, usable only from ``ref`` (e.g. main)."""
    provider = aws.data_aws_iam_openid_connect_provider.DataAwsIamOpenidConnectProvider(
        scope, f"{id_}-github", url=GITHUB_OIDC_URL
    )
    return aws.iam_role.IamRole(
        scope,
        id_,
        name=name,
        description=description,
        max_session_duration=3600,
        assume_role_policy=github_trust(provider.arn, f"repo:{repository}:ref:{ref}"),
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
        ref: str,
        ecr_repository_arn: str,
        service_arn: str,
        task_role_arns: list[str],
        image_tag_parameter_arn: str,
    ) -> None:
        super().__init__(scope, id_)
        role = deploy_role(
            self,
            "role",
            name="homu-github-deploy-fargate",
            repository=repository,
            ref=ref,
            description=f"backend CD of {repository} ({ref}) to the Fargate service",
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
    """The EC2 option's deploy path: Run Command on this one host, with the stock shell document."""

    role_arn: str  # what the deploy workflow assumes

    def __init__(
        self, scope: Construct, id_: str, *, repository: str, ref: str, region: str, instance_arn: str
    ) -> None:
        super().__init__(scope, id_)
        role = deploy_role(
            self,
            "role",
            name="homu-github-deploy-ec2",
            repository=repository,
            ref=ref,
            description=f"backend CD of {repository} ({ref}) to the EC2 host through SSM Run Command",
        )
        aws.iam_role_policy.IamRolePolicy(
            self,
            "policy",
            name="run-command-on-the-host",
            role=role.id,
            policy=iam.document(
                iam.statement(
                    ["ssm:SendCommand"],
                    [f"arn:aws:ssm:{region}::document/AWS-RunShellScript", instance_arn],
                    sid="RunOnThisHost",
                ),
                # Reading a command's result has no resource-level permission.
                iam.statement(
                    ["ssm:GetCommandInvocation", "ssm:ListCommandInvocations"], ["*"], sid="ReadResults"
                ),
            ),
        )
        self.role_arn = role.arn
