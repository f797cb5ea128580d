"""ECS on Fargate: cluster, task definition, service and its auto scaling (guide steps 5-7).

Two things must survive the next ``terraform apply`` after CD or auto scaling acted:

* the image: CD pushes a commit-tagged image, registers a new task definition revision, updates
  the service and records the tag in an SSM parameter. Terraform builds its own task definition
  from that parameter (so a Terraform-made revision runs the deployed image, never an older one) and
  points the service at the newest revision of the family, whoever registered it;
* the task count: auto scaling owns ``desired_count`` (ignored after creation), and the schedule
  owns the scalable target's bounds once it is on (ignored after creation too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import gcd

from cdktf import Fn, Token
from constructs import Construct

from modules import aws, iam
from modules.policy import skip_check
from modules.secrets import SecretReference

# Working hours in Seoul: the schedule scales in at 20:00 on weekdays and back out at 08:00;
# Friday's 20:00 lasts the weekend.
SCHEDULE_TIMEZONE = "Asia/Seoul"
OFF_HOURS_CRON = "cron(0 20 ? * MON-FRI *)"
WORKING_HOURS_CRON = "cron(0 8 ? * MON-FRI *)"
CPU_TARGET_PERCENT = 70
MEMORY_TARGET_PERCENT = 75


@dataclass(frozen=True)
class InitContainer:
    """A one-shot container of the same image that must exit 0 before the app starts."""

    name: str
    command: list[str]
    environment: dict[str, str]
    secrets: dict[str, SecretReference]


@dataclass(frozen=True)
class Container:
    """The app's container, its size, and the one-shot container that runs before it."""

    name: str
    user: str
    health_command: list[str]
    port: int
    cpu: int
    memory: int
    environment: dict[str, str]
    secrets: dict[str, SecretReference]
    init: InitContainer | None = None


def _variables(environment: dict[str, str], secrets: dict[str, SecretReference]) -> dict[str, list]:
    return {
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": ref.value_from} for k, ref in sorted(secrets.items())],
    }


@dataclass(frozen=True)
class Image:
    """Where the image comes from, and the SSM parameter that records the tag CD deployed last."""

    repository_url: str
    repository_arn: str
    tag_parameter: str
    initial_tag: str


@dataclass(frozen=True)
class Placement:
    """Where the tasks run and how traffic reaches them."""

    subnet_ids: list[str]
    security_group_id: str
    assign_public_ip: bool
    target_group_arn: str
    # What must exist before tasks start, so the service waits for it: the listeners (ECS rejects a
    # target group no listener uses yet) and the NAT routes (tasks pull images and secrets through them).
    prerequisites: list


@dataclass(frozen=True)
class Scaling:
    desired: int
    minimum: int
    maximum: int
    spot_percent: int = 0
    # None: no schedule. Otherwise (min, max) for nights and weekends.
    off_hours: tuple[int, int] | None = None


def capacity_strategy(spot_percent: int) -> list[dict[str, object]]:
    """FARGATE / FARGATE_SPOT weights for a Spot share; below 100 % one task stays on FARGATE."""
    if spot_percent == 0:
        return [{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]
    if spot_percent == 100:
        return [{"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    divisor = gcd(spot_percent, 100 - spot_percent)
    return [
        {"capacity_provider": "FARGATE", "weight": (100 - spot_percent) // divisor, "base": 1},
        {"capacity_provider": "FARGATE_SPOT", "weight": spot_percent // divisor, "base": 0},
    ]


class FargateService(Construct):
    """Cluster, task definition with its two roles, service and auto scaling."""

    cluster_name: str
    service_name: str
    service_arn: str  # what the deploy role may update
    execution_role_arn: str  # the ECS agent's role: pulls the image, reads secrets, writes logs
    task_role_arn: str  # the container's own role: Redis sign-in, SECRET_KEY derivation
    image_tag_parameter: str  # name of the SSM parameter CD writes the deployed tag to
    image_tag_parameter_arn: str  # for the deploy role's permission on it

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        cluster_name: str,
        family: str,
        service_name: str,
        region: str,
        container: Container,
        image: Image,
        secret_read_statements: list[dict],
        task_role: iam.RoleRef,
        app_statements: list[dict],
        log_group_name: str,
        log_group_arn: str,
        placement: Placement,
        scaling: Scaling,
        container_insights: bool,
    ) -> None:
        super().__init__(scope, id_)
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")
        cluster = aws.ecs_cluster.EcsCluster(
            self,
            "cluster",
            name=cluster_name,
            setting=[
                aws.ecs_cluster.EcsClusterSetting(
                    name="containerInsights", value="enabled" if container_insights else "disabled"
                )
            ],
        )
        if not container_insights:
            skip_check(
                cluster,
                "CKV_AWS_65",
                "container_insights is off to save ~$11/month per service: the service's CPU and memory "
                "alarms read the free AWS/ECS metrics, the app's logs still go to CloudWatch",
            )
        strategy = capacity_strategy(scaling.spot_percent)
        providers = aws.ecs_cluster_capacity_providers.EcsClusterCapacityProviders(
            self,
            "capacity-providers",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategy=[
                aws.ecs_cluster_capacity_providers.EcsClusterCapacityProvidersDefaultCapacityProviderStrategy(
                    **s
                )
                for s in strategy
            ],
        )

        # Confused-deputy guard: only ECS acting for this account may assume the task roles.
        trust = iam.service_trust(
            "ecs-tasks.amazonaws.com",
            source_account=account.account_id,
            source_arn=f"arn:aws:ecs:{region}:{account.account_id}:*",
        )
        execution_role = aws.iam_role.IamRole(
            self,
            "execution-role",
            name=f"{family}-execution",
            assume_role_policy=trust,
            description="ECS agent: pulls the image, reads the app's secrets, writes its logs",
        )
        execution_policy = aws.iam_role_policy.IamRolePolicy(
            self,
            "execution-policy",
            name="pull-image-read-secrets-write-logs",
            role=execution_role.id,
            policy=iam.document(
                # GetAuthorizationToken has no resource-level permissions; AWS requires "*".
                iam.statement(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
                iam.statement(
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    [image.repository_arn],
                    sid="PullThisRepository",
                ),
                *secret_read_statements,
                iam.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"], sid="WriteAppLogs"
                ),
            ),
        )
        # The task role exists in homu-data (modules/runtime_roles.py); what the app calls is added here.
        task_policy = aws.iam_role_policy.IamRolePolicy(
            self, "task-policy", name="app-runtime", role=task_role.name, policy=iam.document(*app_statements)
        )

        tag = aws.ssm_parameter.SsmParameter(
            self,
            "image-tag",
            name=image.tag_parameter,
            type="String",
            insecure_value=image.initial_tag,
            description=f"Image tag of {container.name} that is deployed; written by CD after each deploy",
            # CD owns the value after the first apply; refresh still reads the current one.
            lifecycle={"ignore_changes": ["insecure_value"]},
        )
        skip_check(
            tag,
            "CKV2_AWS_34",
            "holds an image tag, which is not secret; a SecureString would make "
            "every reader need the key for nothing",
        )
        image_uri = f"{image.repository_url}:{tag.insecure_value}"

        def logs(prefix: str) -> dict:
            options = {
                "awslogs-group": log_group_name,
                "awslogs-region": region,
                "awslogs-stream-prefix": prefix,
            }
            return {"logDriver": "awslogs", "options": options}

        definition = {
            "name": container.name,
            "image": image_uri,
            "essential": True,
            "user": container.user,
            "readonlyRootFilesystem": True,
            "portMappings": [
                {"containerPort": container.port, "hostPort": container.port, "protocol": "tcp"}
            ],
            **_variables(container.environment, container.secrets),
            # The only writable path: the root filesystem is read-only.
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
            "linuxParameters": {"initProcessEnabled": True},
            # The image's own probe (ECS ignores a Dockerfile HEALTHCHECK); a failing task is replaced.
            "healthCheck": {
                "command": ["CMD", *container.health_command],
                "interval": 30,
                "timeout": 5,
                "retries": 3,
                "startPeriod": 30,
            },
            "stopTimeout": 30,
            "logConfiguration": logs("ecs"),
        }
        definitions = [definition]
        if container.init:
            init = container.init
            # Same image and user; it runs before every start of the app, which waits for exit 0.
            definitions.insert(
                0,
                {
                    "name": init.name,
                    "image": image_uri,
                    "essential": False,
                    "user": container.user,
                    "readonlyRootFilesystem": True,
                    "command": init.command,
                    **_variables(init.environment, init.secrets),
                    "logConfiguration": logs(init.name),
                },
            )
            definition["dependsOn"] = [{"containerName": init.name, "condition": "SUCCESS"}]
        task = aws.ecs_task_definition.EcsTaskDefinition(
            self,
            "task",
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(container.cpu),
            memory=str(container.memory),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            runtime_platform=aws.ecs_task_definition.EcsTaskDefinitionRuntimePlatform(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            volume=[aws.ecs_task_definition.EcsTaskDefinitionVolume(name="tmp")],
            container_definitions=json.dumps(definitions),
        )
        newest = aws.data_aws_ecs_task_definition.DataAwsEcsTaskDefinition(
            self, "newest-revision", task_definition=task.family, depends_on=[task]
        )
        self._service = aws.ecs_service.EcsService(
            self,
            "service",
            name=service_name,
            cluster=cluster.id,
            task_definition=f"{task.family}:{Token.as_string(Fn.max([task.revision, newest.revision]))}",
            desired_count=scaling.desired,
            capacity_provider_strategy=[
                aws.ecs_service.EcsServiceCapacityProviderStrategy(**s) for s in strategy
            ],
            network_configuration=aws.ecs_service.EcsServiceNetworkConfiguration(
                subnets=placement.subnet_ids,
                security_groups=[placement.security_group_id],
                assign_public_ip=placement.assign_public_ip,
            ),
            load_balancer=[
                aws.ecs_service.EcsServiceLoadBalancer(
                    target_group_arn=placement.target_group_arn,
                    container_name=container.name,
                    container_port=container.port,
                )
            ],
            health_check_grace_period_seconds=60,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            deployment_circuit_breaker=aws.ecs_service.EcsServiceDeploymentCircuitBreaker(
                enable=True, rollback=True
            ),
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            lifecycle={"ignore_changes": ["desired_count"]},
            # The app signs in to Redis and derives SECRET_KEY at start: its policy must exist first.
            depends_on=[*placement.prerequisites, providers, execution_policy, task_policy],
        )
        if placement.assign_public_ip:
            skip_check(
                self._service,
                "CKV_AWS_333",
                "nat_gateways is 'none': tasks reach ECR and Secrets Manager "
                "through public IPs instead of a NAT gateway (docs/costs.md); their group admits only the ALB",
            )
        self._auto_scaling(cluster.name, service_name, scaling)

        self.cluster_name = cluster.name
        self.service_name = self._service.name
        self.service_arn = self._service.id  # an ECS service's id is its ARN
        self.execution_role_arn = execution_role.arn
        self.task_role_arn = task_role.arn
        self.image_tag_parameter = tag.name
        self.image_tag_parameter_arn = tag.arn

    def _auto_scaling(self, cluster_name: str, service_name: str, scaling: Scaling) -> None:
        target = aws.appautoscaling_target.AppautoscalingTarget(
            self,
            "scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{cluster_name}/{service_name}",
            min_capacity=scaling.minimum,
            max_capacity=scaling.maximum,
            # With the schedule on, it moves these bounds twice a day; an apply must not undo that.
            lifecycle={"ignore_changes": ["min_capacity", "max_capacity"]} if scaling.off_hours else None,
            depends_on=[self._service],
        )
        for metric, percent in (
            ("ECSServiceAverageCPUUtilization", CPU_TARGET_PERCENT),
            ("ECSServiceAverageMemoryUtilization", MEMORY_TARGET_PERCENT),
        ):
            policy = aws.appautoscaling_policy
            policy.AppautoscalingPolicy(
                self,
                f"track-{metric}",
                name=f"{service_name}-{metric}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration=(
                    policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                        target_value=percent,
                        scale_in_cooldown=300,
                        scale_out_cooldown=60,
                        predefined_metric_specification=(
                            policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                                predefined_metric_type=metric
                            )
                        ),
                    )
                ),
            )
        if scaling.off_hours is None:
            return
        previous = None
        for name, cron, (low, high) in (
            ("off-hours", OFF_HOURS_CRON, scaling.off_hours),
            ("working-hours", WORKING_HOURS_CRON, (scaling.minimum, scaling.maximum)),
        ):
            action = aws.appautoscaling_scheduled_action
            previous = action.AppautoscalingScheduledAction(
                self,
                name,
                name=f"{service_name}-{name}",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                schedule=cron,
                timezone=SCHEDULE_TIMEZONE,
                scalable_target_action=action.AppautoscalingScheduledActionScalableTargetAction(
                    min_capacity=str(low), max_capacity=str(high)
                ),
                # The API rejects concurrent updates to one target's schedule.
                depends_on=[previous] if previous else [target],
            )
