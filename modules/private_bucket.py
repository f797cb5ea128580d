"""An S3 bucket that is private, encrypted and TLS-only; the base of every bucket in the project."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from constructs import Construct

from modules import aws
from modules.policy import skip_check

_lifecycle = aws.s3_bucket_lifecycle_configuration
_sse = aws.s3_bucket_server_side_encryption_configuration


class PrivateBucket(Construct):
    """Bucket + public access block + owner-enforced objects + default encryption + TLS-only policy.

    ``scan_exceptions`` maps policy-check ids to the reason they do not apply to this bucket.
    ``policy_statements(bucket_arn)`` returns statements that join the TLS-only denial in the one
    bucket policy S3 allows.
    ``expire_current_days`` / ``expire_noncurrent_days`` add the matching lifecycle rule.
    """

    name: str  # the bucket name (also what S3 access-log delivery is pointed at)
    arn: str  # for bucket policies and IAM statements

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: str | None = None,
        bucket_prefix: str | None = None,
        # The customer key objects are encrypted with; None: SSE-S3 (AES256), the only encryption
        # ALB access-log delivery supports. Never aws/s3, which any reader of the objects can use.
        kms_key_arn: str | None,
        versioned: bool = False,
        prevent_destroy: bool = False,
        force_destroy: bool = False,
        expire_current_days: int | None = None,
        expire_noncurrent_days: int | None = None,
        policy_statements: Callable[[str], list[dict[str, Any]]] = lambda bucket_arn: [],
        scan_exceptions: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self._bucket = aws.s3_bucket.S3Bucket(
            self,
            "bucket",
            bucket=bucket,
            bucket_prefix=bucket_prefix,
            force_destroy=force_destroy,
            lifecycle={"prevent_destroy": True} if prevent_destroy else None,
        )
        skip_check(self._bucket, "CKV2_AWS_62", "nothing consumes this bucket's object events")
        for check_id, reason in (scan_exceptions or {}).items():
            skip_check(self._bucket, check_id, reason)
        self.name = self._bucket.bucket
        self.arn = self._bucket.arn
        if versioned:
            aws.s3_bucket_versioning.S3BucketVersioningA(
                self, "versioning", bucket=self._bucket.id, versioning_configuration={"status": "Enabled"}
            )
        _sse.S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=self._bucket.id,
            rule=[
                _sse.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        _sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms" if kms_key_arn else "AES256",
                            kms_master_key_id=kms_key_arn,
                        )
                    ),
                    bucket_key_enabled=kms_key_arn is not None,
                )
            ],
        )
        aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self,
            "public-access",
            bucket=self._bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self, "ownership", bucket=self._bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}
        )
        self._lifecycle(expire_current_days, expire_noncurrent_days)
        aws.s3_bucket_policy.S3BucketPolicy(
            self,
            "policy",
            bucket=self._bucket.id,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [self._deny_insecure_transport(), *policy_statements(self.arn)],
                }
            ),
        )

    def _deny_insecure_transport(self) -> dict[str, Any]:
        return {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [self.arn, f"{self.arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }

    def _lifecycle(self, current_days: int | None, noncurrent_days: int | None) -> None:
        rule: dict[str, Any] = {
            "abort_incomplete_multipart_upload": [
                _lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=7
                )
            ],
        }
        if current_days:
            rule["expiration"] = [_lifecycle.S3BucketLifecycleConfigurationRuleExpiration(days=current_days)]
        if noncurrent_days:
            rule["noncurrent_version_expiration"] = [
                _lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                    noncurrent_days=noncurrent_days
                )
            ]
        _lifecycle.S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=self._bucket.id,
            rule=[
                _lifecycle.S3BucketLifecycleConfigurationRule(
                    id="expire",
                    status="Enabled",
                    filter=[_lifecycle.S3BucketLifecycleConfigurationRuleFilter()],
                    **rule,
                )
            ],
        )
