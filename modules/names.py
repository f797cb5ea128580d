"""Names the constructs and the tools share, with no cdktf import (the tools load this without it)."""

# In deploy order: the state bucket, the data tier, then either or both computes on it.
STATE_STACK = "homu-state"
DATA_STACK = "homu-data"
FARGATE_STACK = "homu-fargate"
EC2_STACK = "homu-ec2"
COMPUTE_STACKS = (FARGATE_STACK, EC2_STACK)
REMOTE_STATE_STACKS = (DATA_STACK, *COMPUTE_STACKS)  # their state is in the homu-state bucket
STACKS = (STATE_STACK, *REMOTE_STATE_STACKS)

POSTGRES_PORT = 5432
# The one-shot container (ECS) and Compose service (EC2) that runs app.dbinit before the app starts.
DATABASE_INIT = "db-init"
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


def task_role_name(task_family: str) -> str:
    """The Fargate task's own role (homu-data's, modules/runtime_roles.py)."""
    return f"{task_family}-task"


def host_role_name(app_name: str) -> str:
    """The EC2 host's instance role (homu-data's) and the compute's instance profile of that name."""
    return f"{app_name}-host"
