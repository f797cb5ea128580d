"""What the GitHub plan role may call, with no cdktf import (the rehearsal reads it too).

``REFRESH_ACTIONS`` is what ``terraform plan`` of homu-data, homu-fargate and homu-ec2 calls to refresh
their resources with hashicorp/aws 5.100.0, as recorded from the provider's own requests in the
production rehearsal (IAM enforced, ``tools/rehearsal/run.py``), which fails when a plan needs an
action that is not here or when an action here is never called. Metadata only: the role's data reads
(the state objects, the image tag) are scoped statements of their own in ``modules/ci.py``.
"""

from __future__ import annotations


def _service(prefix: str, *operations: str) -> tuple[str, ...]:
    return tuple(f"{prefix}:{operation}" for operation in operations)


REFRESH_ACTIONS = (
    *_service("acm", "DescribeCertificate", "ListTagsForCertificate"),
    *_service(
        "application-autoscaling",
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "DescribeScheduledActions",
        "ListTagsForResource",
    ),
    *_service("cloudwatch", "DescribeAlarms", "GetDashboard", "ListTagsForResource"),
    *_service(
        "ec2",
        "DescribeAddresses",
        "DescribeAddressesAttribute",
        "DescribeAvailabilityZones",
        "DescribeFlowLogs",
        "DescribeImages",
        "DescribeInstanceAttribute",
        "DescribeInstanceCreditSpecifications",
        "DescribeInstanceTypes",
        "DescribeInstances",
        "DescribeInternetGateways",
        "DescribeNatGateways",
        "DescribeNetworkAcls",
        "DescribeRouteTables",
        "DescribeSecurityGroupRules",
        "DescribeSecurityGroups",
        "DescribeSubnets",
        "DescribeTags",
        "DescribeVolumes",
        "DescribeVpcAttribute",
        "DescribeVpcs",
        "GetInstanceUefiData",
    ),
    *_service("ecr", "DescribeRepositories", "GetLifecyclePolicy", "ListTagsForResource"),
    *_service("ecs", "DescribeClusters", "DescribeServices", "DescribeTaskDefinition"),
    *_service(
        "elasticache",
        "DescribeCacheClusters",
        "DescribeCacheSubnetGroups",
        "DescribeReplicationGroups",
        "DescribeUserGroups",
        "DescribeUsers",
        "ListTagsForResource",
    ),
    *_service(
        "elasticloadbalancing",
        "DescribeCapacityReservation",
        "DescribeListenerAttributes",
        "DescribeListeners",
        "DescribeLoadBalancerAttributes",
        "DescribeLoadBalancers",
        "DescribeTags",
        "DescribeTargetGroupAttributes",
        "DescribeTargetGroups",
    ),
    *_service(
        "iam",
        "GetInstanceProfile",
        "GetOpenIDConnectProvider",
        "GetRole",
        "GetRolePolicy",
        "GetUser",
        "ListAttachedRolePolicies",
        "ListOpenIDConnectProviders",
        "ListRolePolicies",
    ),
    *_service(
        "kms", "DescribeKey", "GetKeyPolicy", "GetKeyRotationStatus", "ListAliases", "ListResourceTags"
    ),
    *_service("logs", "DescribeLogGroups", "ListTagsForResource"),
    *_service(
        "rds",
        "DescribeDBInstances",
        "DescribeDBParameterGroups",
        "DescribeDBParameters",
        "DescribeDBSubnetGroups",
        "DescribeEventSubscriptions",
        "ListTagsForResource",
    ),
    *_service("route53", "GetHostedZone", "ListHostedZones", "ListResourceRecordSets", "ListTagsForResource"),
    # HEAD bucket (every aws_s3_bucket's refresh) is authorized as s3:ListBucket: key names, no contents.
    *_service(
        "s3",
        "GetAccelerateConfiguration",
        "GetBucketAcl",
        "GetBucketCORS",
        "GetBucketLogging",
        "GetBucketObjectLockConfiguration",
        "GetBucketOwnershipControls",
        "GetBucketPolicy",
        "GetBucketPublicAccessBlock",
        "GetBucketRequestPayment",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetBucketWebsite",
        "GetEncryptionConfiguration",
        "GetLifecycleConfiguration",
        "GetReplicationConfiguration",
        "ListBucket",
    ),
    *_service("sns", "GetSubscriptionAttributes", "GetTopicAttributes", "ListTagsForResource"),
    *_service(
        "ssm",
        "DescribeDocument",
        "DescribeDocumentPermission",
        "DescribeParameters",
        "GetDocument",
        "ListTagsForResource",
    ),
    *_service("wafv2", "GetLoggingConfiguration", "GetWebACL", "GetWebACLForResource", "ListTagsForResource"),
)

# Reads of data rather than configuration, denied outright so that no other policy (an attachment
# added later by hand) can hand them to the plan role: object contents, parameter values, log events,
# function configurations (their environment), console output, table items, images, sign-ins.
DATA_PLANE_READS = (
    "secretsmanager:GetSecretValue",
    "kms:GenerateMac",
    "kms:GenerateDataKey*",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StartLiveTail",
    "logs:GetLogRecord",
    "ec2:GetConsoleOutput",
    "ec2:GetConsoleScreenshot",
    "ec2:GetPasswordData",
    "rds:DownloadDBLogFilePortion",
    "rds:DownloadCompleteDBLogFile",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:InvokeFunction",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetAuthorizationToken",
    "elasticache:Connect",
    "rds-db:connect",
    "sqs:ReceiveMessage",
    "sts:AssumeRole",
)
# Reads the role makes only on named resources: objects outside the state, parameters but the image tag.
OBJECT_READS = ("s3:GetObject", "s3:GetObjectVersion")
PARAMETER_READS = (
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParameterHistory",
    "ssm:GetParametersByPath",
)
# A plan runs with -lock=false: the role writes nothing, lock objects included.
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
