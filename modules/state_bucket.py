"""The S3 bucket that holds every application stack's Terraform state and its lock files."""

from __future__ import annotations

from constructs import Construct

from modules.private_bucket import PrivateBucket

# Old state versions are the undo history of every apply; 90 days covers a quarter of mistakes.
NONCURRENT_VERSION_DAYS = 90


class StateBucket(Construct):
    """Versioned, KMS-encrypted, private, TLS-only, and protected from ``terraform destroy``."""

    bucket_name: str  # the S3 backend's ``bucket``
    bucket_arn: str  # for the plan and deploy roles' state permissions

    def __init__(self, scope: Construct, id_: str, *, bucket_name: str, kms_key_arn: str) -> None:
        super().__init__(scope, id_)
        bucket = PrivateBucket(
            self,
            "bucket",
            bucket=bucket_name,
            kms_key_arn=kms_key_arn,
            versioned=True,
            # Losing this bucket loses track of every resource: destroy must fail, not empty it.
            prevent_destroy=True,
            force_destroy=False,
            expire_noncurrent_days=NONCURRENT_VERSION_DAYS,
            scan_exceptions={
                "CKV_AWS_144": "versioning keeps 90 days of state history; a lost region is recovered by "
                "re-bootstrapping and importing, cheaper than replicating every state write",
                "CKV_AWS_18": "only Terraform reads and writes here, as the deployers' IAM identities that "
                "CloudTrail records; a second bucket for access logs is not worth its upkeep",
            },
        )
        self.bucket_name = bucket.name
        self.bucket_arn = bucket.arn
