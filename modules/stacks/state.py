"""``homu-state``: the bucket every other stack keeps its state in, and the key that encrypts it."""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput
from constructs import Construct

from modules.ci import GithubPlanAccess
from modules.kms import EncryptionKey, KeyUsers
from modules.names import STATE_STACK
from modules.settings import Settings
from modules.stacks.base import HomuStack
from modules.state_bucket import StateBucket


class StateStack(HomuStack):
    def __init__(self, scope: Construct, id_: str = STATE_STACK, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        # The bucket cannot hold the state of the stack that creates it, so this state stays local:
        # one file per environment in the project directory (the path is relative to
        # cdktf.out/stacks/homu-state), so deploying another environment never plans against this one.
        LocalBackend(self, path=f"../../../{settings.state_file}")
        # An S3 ARN follows from the name alone, so the plan role can be named in the key's policy
        # before the bucket that uses the key exists.
        bucket_arn = f"arn:aws:s3:::{settings.state_bucket}"
        github = None
        if settings.github_repository:
            github = GithubPlanAccess(
                self,
                "github",
                repository=settings.github_repository,
                environment=settings.github_plan_environment,
                drift_environment=settings.github_drift_environment,
                role_name=settings.github_role_name("plan"),
                create_provider=settings.github_oidc_provider == "create",
                state_bucket_arn=bucket_arn,
                state_prefix=f"{settings.environment}/",
                state_key_alias=f"alias/{settings.state_key_alias}",
                parameter_names=[settings.image_tag_parameter],
                region=settings.region,
            )
            TerraformOutput(self, "github_plan_role_arn", value=github.plan_role_arn)
        key_users = settings.state_key_users
        key = EncryptionKey(
            self,
            "encryption",
            alias=settings.state_key_alias,
            description="Terraform state of every stack",
            region=settings.region,
            # Without this key no state can be read: always the longest window to undo a deletion.
            deletion_window_days=30,
            users=KeyUsers(
                principals=(*key_users, *([github.plan_role_arn] if github and key_users else []))
            ),
        )
        bucket = StateBucket(self, "state", bucket_name=settings.state_bucket, kms_key_arn=key.arn)
        TerraformOutput(self, "state_bucket", value=bucket.bucket_name)
        TerraformOutput(self, "state_bucket_arn", value=bucket.bucket_arn)
