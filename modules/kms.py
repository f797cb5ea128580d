"""Customer-managed KMS keys: one per application stack for everything it stores, one for the state.

AWS-managed keys cannot be shared with other services: CloudWatch alarms, for one, cannot publish
to an SNS topic encrypted with ``aws/sns``, so alerts would silently never arrive; and anyone who may
read an object encrypted with ``aws/s3`` reads it in clear. A customer key whose policy names exactly
the services that use it fixes both and puts logs, secrets, the cache, the database, images, volumes
and the Terraform state under keys the team controls ($1 a month each, rotated yearly).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws

# Everything a service needs to encrypt storage with the key on a principal's behalf (AWS's own
# policy of aws/ebs and aws/ecr).
STORAGE_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:DescribeKey",
]


# Managing a key without using it (AWS's "key administrators" set): enough to fix its policy.
ADMINISTRATION_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]


@dataclass(frozen=True)
class KeyUsers:
    """Who may use a key besides the account's IAM principals that are granted it by IAM."""

    # CloudWatch Logs of this account, for encrypted log groups.
    log_groups: bool = False
    # Service principals that publish to an SNS topic encrypted with the key (alarms, RDS events).
    topic_publishers: tuple[str, ...] = ()
    # Services that encrypt storage for principals of this account (ec2: EBS volumes, ecr: images).
    storage_services: tuple[str, ...] = ()
    # When set, only these IAM principals may encrypt and decrypt; the account keeps administering
    # the key (so a wrong list can be fixed) but its IAM policies no longer grant using it.
    principals: tuple[str, ...] = ()
    # For an HMAC key: the unique ids (AROA...) of the only roles that may derive with it;
    # kms:GenerateMac is denied to every other principal, administrators included, whatever their IAM
    # policies say.
    mac_role_ids: tuple[str, ...] = ()


class EncryptionKey(Construct):
    """A rotated customer-managed key with an alias; IAM principals still need ``kms:Decrypt`` on it."""

    arn: str  # what resources name as their kms_key_id and policies grant kms:Decrypt on
    key_id: str  # the bare key id

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alias: str,
        description: str,
        region: str,
        deletion_window_days: int,
        users: KeyUsers,
    ) -> None:
        super().__init__(scope, id_)
        key = _aliased_key(
            self, alias, description, region, deletion_window_days, users, enable_key_rotation=True
        )
        self.arn = key.arn
        self.key_id = key.key_id


class MacKey(Construct):
    """An HMAC key (HMAC_256): what is MACed with it is derived, never stored, and only principals
    granted ``kms:GenerateMac`` can derive it. Its material never leaves KMS, and KMS cannot rotate
    HMAC keys: a new derived value comes from a new message (``secret_key_generation``)."""

    arn: str

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alias: str,
        description: str,
        region: str,
        deletion_window_days: int,
        mac_role_ids: tuple[str, ...],
    ) -> None:
        super().__init__(scope, id_)
        key = _aliased_key(
            self,
            alias,
            description,
            region,
            deletion_window_days,
            KeyUsers(mac_role_ids=mac_role_ids),
            key_usage="GENERATE_VERIFY_MAC",
            customer_master_key_spec="HMAC_256",
        )
        self.arn = key.arn


def _aliased_key(
    scope: Construct,
    alias: str,
    description: str,
    region: str,
    deletion_window_days: int,
    users: KeyUsers,
    **spec: Any,
) -> aws.kms_key.KmsKey:
    """A key whose policy admits ``users``, named ``alias/<alias>``; ``spec`` adds the key's kind."""
    account = aws.data_aws_caller_identity.DataAwsCallerIdentity(scope, "account").account_id
    key = aws.kms_key.KmsKey(
        scope,
        "key",
        description=f"{alias}: {description}",
        deletion_window_in_days=deletion_window_days,
        policy=json.dumps({"Version": "2012-10-17", "Statement": _statements(users, region, account)}),
        **spec,
    )
    aws.kms_alias.KmsAlias(scope, "alias", name=f"alias/{alias}", target_key_id=key.key_id)
    return key


def _statements(users: KeyUsers, region: str, account: str) -> list[dict[str, Any]]:
    root = {"AWS": f"arn:aws:iam::{account}:root"}
    if users.principals:
        statements: list[dict[str, Any]] = [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": root,
                "Action": ADMINISTRATION_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "NamedPrincipalsUseTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": list(users.principals)},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
            },
        ]
    else:
        # Lets IAM policies in this account grant use of the key (the AWS default).
        statements = [
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": root,
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    if users.mac_role_ids:
        statements.append(
            {
                "Sid": "OnlyTheAppDerives",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:GenerateMac",
                "Resource": "*",
                # By unique id (a session's aws:userid is ROLE_ID:SESSION): a role deleted and made again
                # under the same name has a new id, so a name alone would let its re-creator derive.
                "Condition": {
                    "StringNotLike": {"aws:userid": [f"{role_id}:*" for role_id in users.mac_role_ids]}
                },
            }
        )
    if users.log_groups:
        statements.append(
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
                        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"
                    }
                },
            }
        )
    if users.topic_publishers:
        statements.append(
            {
                "Sid": "ServicesPublishToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": list(users.topic_publishers)},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        )
    if users.storage_services:
        statements.append(
            {
                # Any principal of this account, but only through these services (AWS's aws/ebs policy).
                "Sid": "StorageServicesOfThisAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": STORAGE_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": [
                            f"{service}.{region}.amazonaws.com" for service in users.storage_services
                        ],
                    }
                },
            }
        )
    return statements
