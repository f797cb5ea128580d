"""The S3 bucket that holds every application stack's Terraform state and its lock files."""

from __future__ import annotations

import json

from constructs import Construct

from modules import aws

# Old state versions are the undo history of every apply; 90 days covers a quarter of mistakes.
NONCURRENT_VERSION_DAYS = 90


class StateBucket(Construct):
    """Versioned, KMS-encrypted, private, TLS-only, and protected from ``terraform destroy``.

    Attributes: ``bucket_name``, ``bucket_arn``.
    """

    def __init__(self, scope: Construct, id_: str, *, bucket_name: str) -> None:
        super().__init__(scope, id_)
        bucket = aws.s3_bucket.S3Bucket(
            self, "bucket", bucket=bucket_name,
            # Losing this bucket loses track of every resource: destroy must fail, not empty it.
            force_destroy=False, lifecycle={"prevent_destroy": True},
        )  # fmt: skip
        aws.s3_bucket_versioning.S3BucketVersioningA(
            self, "versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}
        )
        sse = aws.s3_bucket_server_side_encryption_configuration
        sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=bucket.id,
            rule=[sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=(
                    sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="aws:kms"
                    )
                ),
                bucket_key_enabled=True,
            )],
        )  # fmt: skip
        aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self, "public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True,
        )  # fmt: skip
        aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self, "ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}
        )
        lifecycle = aws.s3_bucket_lifecycle_configuration
        lifecycle.S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=bucket.id,
            rule=[lifecycle.S3BucketLifecycleConfigurationRule(
                id="expire-old-state-versions",
                status="Enabled",
                filter=[lifecycle.S3BucketLifecycleConfigurationRuleFilter()],
                noncurrent_version_expiration=[
                    lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=NONCURRENT_VERSION_DAYS
                    )
                ],
                abort_incomplete_multipart_upload=[
                    lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=7
                    )
                ],
            )],
        )  # fmt: skip
        aws.s3_bucket_policy.S3BucketPolicy(
            self, "tls-only", bucket=bucket.id,
            policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.arn, f"{bucket.arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }],
            }),
        )  # fmt: skip
        self.bucket_name: str = bucket.bucket
        self.bucket_arn: str = bucket.arn
