"""One customer-managed KMS key per application stack, for everything that stores data at rest.

AWS-managed keys cannot be shared with other services: CloudWatch alarms, for one, cannot publish
to an SNS topic encrypted with ``aws/sns``, so alerts would silently never arrive. A customer key
whose policy names the services that use it fixes that and puts logs, secrets, the cache and the
database's Performance Insights under one key the team controls ($1 a month, rotated yearly).
"""

from __future__ import annotations

import json

from constructs import Construct

from modules import aws


class EncryptionKey(Construct):
    """A rotated customer-managed key with an alias; IAM principals still need ``kms:Decrypt`` on it."""

    arn: str  # what resources name as their kms_key_id and policies grant kms:Decrypt on
    key_id: str  # the bare key id

    def __init__(
        self, scope: Construct, id_: str, *, alias: str, region: str, deletion_window_days: int
    ) -> None:
        super().__init__(scope, id_)
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")
        root = f"arn:aws:iam::{account.account_id}:root"
        key = aws.kms_key.KmsKey(
            self,
            "key",
            description=f"{alias}: logs, secrets, alerts, cache and database insights",
            enable_key_rotation=True,
            deletion_window_in_days=deletion_window_days,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            # Lets IAM policies in this account grant use of the key (the AWS default).
                            "Sid": "AccountAdministersThroughIam",
                            "Effect": "Allow",
                            "Principal": {"AWS": root},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudWatchLogsOfThisAccount",
                            "Effect": "Allow",
                            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                            "Action": [
                                "kms:Encrypt*",
                                "kms:Decrypt*",
                                "kms:ReEncrypt*",
                                "kms:GenerateDataKey*",
                                "kms:Describe*",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "ArnLike": {
                                    "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account.account_id}:log-group:*"
                                }
                            },
                        },
                        {
                            "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
                        },
                    ],
                }
            ),
        )
        aws.kms_alias.KmsAlias(self, "alias", name=f"alias/{alias}", target_key_id=key.key_id)
        self.arn = key.arn
        self.key_id = key.key_id
