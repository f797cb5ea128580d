"""What every stack shares: the provider, the Terraform version, and the S3 backend on ``homu-state``."""

from __future__ import annotations

from typing import Any

from cdktf import DataTerraformRemoteStateS3, S3Backend, TerraformStack
from constructs import Construct

from modules import aws
from modules.kms import EncryptionKey, KeyUsers
from modules.names import EMULATED_SERVICES
from modules.settings import Settings

# use_lockfile (S3-native locking) needs 1.10; 1.11 is what the tests and the rehearsal run.
REQUIRED_TERRAFORM = ">= 1.11"


class HomuStack(TerraformStack):
    """Provider and Terraform version, common to every stack."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings) -> None:
        super().__init__(scope, id_)
        self.settings = settings
        provider = aws.provider.AwsProvider(
            self,
            "aws",
            region=settings.region,
            default_tags=[
                aws.provider.AwsProviderDefaultTags(
                    tags={
                        "Project": "homu",
                        "Environment": settings.environment,
                        "Stack": id_,
                        "ManagedBy": "cdktf",
                    }
                )
            ],
        )
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        if settings.endpoint_url:
            # Deploy rehearsal only (python -m tools.rehearsal): every API call goes to the local emulator.
            url = settings.endpoint_url
            provider.endpoints = [aws.provider.AwsProviderEndpoints(**{s: url for s in EMULATED_SERVICES})]
            provider.s3_use_path_style = True
            provider.skip_credentials_validation = True
            provider.skip_metadata_api_check = "true"


def _backend(settings: Settings, stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Where ``stack``'s state lives: the S3 backend arguments, and the emulator-only extras that cdktf's
    classes have no field for. The backend and every reader of that state use both."""
    s = settings
    extras: dict[str, Any] = {}
    if s.endpoint_url:
        extras = {
            "endpoints": {"s3": s.endpoint_url, "sts": s.endpoint_url, "iam": s.endpoint_url},
            "use_path_style": True,
            "skip_credentials_validation": True,
            "skip_metadata_api_check": True,
        }
    return s.backend_config(stack), extras


class RemoteStateStack(HomuStack):
    """A stack whose state is an object in the ``homu-state`` bucket, locked with S3-native locking."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        config, extras = _backend(settings, id_)
        S3Backend(self, **config)
        # S3-native locking (a .tflock object beside the state); cdktf 0.21's S3Backend lacks the field.
        for key, value in {"use_lockfile": True, **extras}.items():
            self.add_override(f"terraform.backend.s3.{key}", value)

    def stack_key(self, *, description: str, users: KeyUsers) -> EncryptionKey:
        """The stack's own customer-managed key, ``alias/homu-<environment>-<stack without homu->``."""
        s = self.settings
        return EncryptionKey(
            self,
            "encryption",
            alias=f"homu-{s.environment}-{self.node.id.removeprefix('homu-')}",
            description=description,
            region=s.region,
            deletion_window_days=s.kms_deletion_window_days,
            users=users,
        )

    def remote_state(self, producer: TerraformStack) -> DataTerraformRemoteStateS3:
        """``producer``'s outputs, read from its state object; the CLI deploys ``producer`` first."""
        name = producer.node.id
        config, extras = _backend(self.settings, name)
        remote = DataTerraformRemoteStateS3(self, name, **config)
        for key, value in extras.items():
            remote.add_override(f"config.{key}", value)
        self.add_dependency(producer)
        return remote
