"""Names the constructs and the tools share, with no cdktf import (the tools load this without it)."""

STATE_STACK = "homu-state"
FARGATE_STACK = "homu-fargate"
EC2_STACK = "homu-ec2"
APP_STACKS = (FARGATE_STACK, EC2_STACK)
STACKS = (STATE_STACK, *APP_STACKS)

POSTGRES_PORT = 5432
REDIS_PORT = 6379
HTTP_PORT = 80
HTTPS_PORT = 443
INTERNET_V4 = "0.0.0.0/0"

# The key of a resource's ``//`` comment object that holds its policy-scan exceptions (modules/policy.py).
SKIP_KEY = "checkov_skip"

# Every service the stacks call, for the deploy rehearsal's emulator endpoint.
EMULATED_SERVICES = (
    "acm", "appautoscaling", "cloudwatch", "cloudwatchlogs", "ec2", "ecr", "ecs", "elasticache", "elbv2",
    "iam", "kms", "rds", "route53", "s3", "secretsmanager", "sns", "ssm", "sts", "wafv2",
)  # fmt: skip
