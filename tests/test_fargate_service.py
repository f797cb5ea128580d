"""homu-fargate's compute: cluster, task definition, service, IAM and auto scaling, as in the guide."""

from __future__ import annotations

import json

import pytest

from modules.fargate_service import capacity_strategy
from tests.synth import data_output
from tools.tfjson import Stack, ref


def containers(stack: Stack) -> dict[str, dict]:
    definitions = json.loads(stack.resource("aws_ecs_task_definition")["container_definitions"])
    return {definition["name"]: definition for definition in definitions}


def container(stack: Stack) -> dict:
    return containers(stack)["homu-backend"]


def policy(body: dict) -> list[dict]:
    return json.loads(body["policy"])["Statement"]


def address_of(stack: Stack, type_: str, suffix: str) -> str:
    return stack.address(type_, stack.named(type_, suffix))


def test_cluster_has_container_insights_and_both_fargate_capacity_providers(default):
    stack = default["homu-fargate"]
    cluster = stack.resource("aws_ecs_cluster")
    assert cluster["name"] == "homu-cluster"
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]
    providers = stack.resource("aws_ecs_cluster_capacity_providers")
    assert providers["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert providers["default_capacity_provider_strategy"] == [
        {"capacity_provider": "FARGATE", "weight": 1, "base": 0}
    ]


def test_task_definition_is_the_guides(default):
    stack = default["homu-fargate"]
    task = stack.resource("aws_ecs_task_definition")
    assert (task["family"], task["network_mode"], task["requires_compatibilities"]) == (
        "homu-backend-task",
        "awsvpc",
        ["FARGATE"],
    )
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    assert task["volume"] == [{"name": "tmp"}]
    c = container(stack)
    assert c["name"] == "homu-backend" and c["essential"] is True
    assert c["portMappings"] == [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}]
    assert {"name": "API_V1_STR", "value": "/api/v1"} in c["environment"]  # the rest: see the next tests
    assert c["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": ref(address_of(stack, "aws_cloudwatch_log_group", "app-logs"), "name"),
            "awslogs-region": "ap-northeast-2",
            "awslogs-stream-prefix": "ecs",
        },
    }
    registry = stack.address("aws_ecr_repository", stack.resource("aws_ecr_repository"))
    parameter = stack.address("aws_ssm_parameter", stack.resource("aws_ssm_parameter"))
    assert c["image"] == f"${{{registry}.repository_url}}:${{{parameter}.insecure_value}}"


def test_container_is_hardened(default):
    c = container(default["homu-fargate"])
    assert c["readonlyRootFilesystem"] is True
    assert c["user"] == "10001" and c["user"] not in ("0", "root")
    assert c["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert c["linuxParameters"] == {"initProcessEnabled": True}


def test_the_app_gets_no_secret_only_plain_values(default):
    c = container(default["homu-fargate"])
    assert c["secrets"] == []  # PostgreSQL and Redis: IAM tokens; SECRET_KEY: KMS
    assert {e["name"]: e["value"] for e in c["environment"]} == {
        "API_V1_STR": "/api/v1",
        "DATABASE_URL": data_output("database_url"),
        "DATABASE_AUTH": "iam",
        "REDIS_URL": data_output("redis_url"),
        "REDIS_IAM_CACHE": data_output("cache_id"),
        "SECRET_KEY_KMS_KEY_ID": data_output("secret_key_key_arn"),
        "SECRET_KEY_KMS_MESSAGE": data_output("secret_key_message"),
    }


def test_database_init_runs_before_the_app_with_the_master_password(default):
    """The master password reaches only db-init, which must exit 0 before the app starts; it runs the
    same image as the same user, and is not essential (its exit does not stop the task)."""
    from modules.settings import CONTRACT

    stack = default["homu-fargate"]
    by_name = containers(stack)
    init, app = by_name["db-init"], by_name["homu-backend"]
    assert list(by_name) == ["db-init", "homu-backend"]
    assert app["dependsOn"] == [{"containerName": "db-init", "condition": "SUCCESS"}]
    assert init["essential"] is False and app["essential"] is True
    assert init["command"] == CONTRACT["database_init"]["command"]
    assert (init["image"], init["user"], init["readonlyRootFilesystem"]) == (app["image"], app["user"], True)
    assert init["secrets"] == [
        {
            "name": "DATABASE_PASSWORD",
            "valueFrom": data_output("database_password_secret_arn") + ":password::",
        }
    ]
    assert {e["name"]: e["value"] for e in init["environment"]} == {
        "DATABASE_URL": data_output("database_admin_url"),
        "DATABASE_APP_USER": data_output("database_app_user"),
    }
    assert set(CONTRACT["database_init"]["secrets"]) | set(CONTRACT["database_init"]["environment"]) == {
        "DATABASE_PASSWORD",
        "DATABASE_URL",
        "DATABASE_APP_USER",
    }
    assert "portMappings" not in init and "healthCheck" not in init
    assert init["logConfiguration"]["options"]["awslogs-stream-prefix"] == "db-init"
    assert (
        init["logConfiguration"]["options"]["awslogs-group"]
        == app["logConfiguration"]["options"]["awslogs-group"]
    )


def test_execution_role_reads_exactly_the_app_secrets_and_pulls_exactly_this_repository(default):
    stack = default["homu-fargate"]
    execution = stack.named("aws_iam_role", "service/execution-role")
    task = stack.resource("aws_ecs_task_definition")
    assert task["execution_role_arn"] == ref(stack.address("aws_iam_role", execution), "arn")
    # The task role is homu-data's (it exists whichever option is deployed); its policy is added here.
    assert task["task_role_arn"] == data_output("task_role_arn")
    assert stack.named("aws_iam_role_policy", "service/task-policy")["role"] == data_output("task_role_name")
    statements = {s["Sid"]: s for s in policy(stack.named("aws_iam_role_policy", "service/execution-policy"))}
    registry = stack.address("aws_ecr_repository", stack.resource("aws_ecr_repository"))
    assert statements["EcrLogin"]["Action"] == ["ecr:GetAuthorizationToken"] and statements["EcrLogin"][
        "Resource"
    ] == ["*"]
    assert statements["PullThisRepository"]["Resource"] == [ref(registry, "arn")]
    assert set(statements["PullThisRepository"]["Action"]) == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    }
    assert statements["ReadTheMasterPassword"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statements["ReadTheMasterPassword"]["Resource"] == [data_output("database_password_secret_arn")]
    log_group = address_of(stack, "aws_cloudwatch_log_group", "app-logs")
    assert statements["WriteAppLogs"]["Resource"] == [ref(log_group, "arn") + ":*"]
    assert statements["DecryptTheSecrets"] == {
        "Sid": "DecryptTheSecrets",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [data_output("secrets_key_arn")],  # RDS's secret is encrypted with the data key
        # The same key encrypts logs, the cache and the topic: only through Secrets Manager.
        "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
    }
    # Only the ECR login may use "*": AWS offers no resource-level permission for it.
    for sid, s in statements.items():
        assert sid == "EcrLogin" or "*" not in s["Resource"], sid
    # The app's own role signs in to PostgreSQL and Redis and derives SECRET_KEY, nothing else.
    (task_policy,) = [
        p
        for p in stack.resources("aws_iam_role_policy").values()
        if p["role"] == data_output("task_role_name")
    ]
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in policy(task_policy)} == {
        "SignInToPostgres": (["rds-db:connect"], [data_output("database_connect_arn")]),
        "SignInToRedis": (["elasticache:Connect"], [data_output("cache_arn"), data_output("cache_user_arn")]),
        "DeriveTheSecretKey": (["kms:GenerateMac"], [data_output("secret_key_key_arn")]),
    }
    derive = next(s for s in policy(task_policy) if s["Sid"] == "DeriveTheSecretKey")
    assert derive["Condition"] == {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}


def test_task_roles_trust_only_ecs_tasks_of_this_account(default):
    stack = default["homu-fargate"]
    (trust,) = json.loads(stack.named("aws_iam_role", "service/execution-role")["assume_role_policy"])[
        "Statement"
    ]
    assert (
        trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    )
    account = trust["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert any(
        account == f"${{data.aws_caller_identity.{name}.account_id}}"
        for name in stack.data("aws_caller_identity")
    )
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:ecs:ap-northeast-2:")


def test_service_deploys_safely_in_private_subnets(default):
    stack = default["homu-fargate"]
    service = stack.resource("aws_ecs_service")
    assert (service["name"], service["desired_count"]) == ("homu-backend-service", 1)
    assert service["cluster"] == ref(stack.address("aws_ecs_cluster", stack.resource("aws_ecs_cluster")))
    assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert service["health_check_grace_period_seconds"] == 60
    assert (service["deployment_minimum_healthy_percent"], service["deployment_maximum_percent"]) == (
        100,
        200,
    )
    network = service["network_configuration"]
    assert network["assign_public_ip"] is False
    # Tasks start only once they can reach ECR and Secrets Manager: after the NAT routes (and listeners).
    routes = {f"aws_route.{name}" for name in stack.resources("aws_route")}
    listeners = {f"aws_lb_listener.{name}" for name in stack.resources("aws_lb_listener")}
    assert len(routes) == 2 and routes | listeners <= set(service["depends_on"])
    # ...and once both roles' policies exist: the app signs in to Redis and derives SECRET_KEY at start.
    policies = {
        stack.address("aws_iam_role_policy", stack.named("aws_iam_role_policy", f"service/{name}"))
        for name in ("execution-policy", "task-policy")
    }
    assert policies <= set(service["depends_on"])
    assert network["subnets"] == data_output("private_subnet_ids")
    app_group = next(
        a for a, g in stack.resources("aws_security_group").items() if g["name"] == "homu-backend-sg"
    )
    assert network["security_groups"] == [ref(f"aws_security_group.{app_group}")]
    target_group = stack.address("aws_lb_target_group", stack.resource("aws_lb_target_group"))
    assert service["load_balancer"] == [
        {
            "target_group_arn": ref(target_group, "arn"),
            "container_name": "homu-backend",
            "container_port": 8000,
        }
    ]
    assert "launch_type" not in service, "capacity providers choose FARGATE or FARGATE_SPOT"


def test_no_nat_layout_puts_tasks_on_public_ips_in_public_subnets(synth):
    stack = synth(nat_gateways="none")["homu-fargate"]
    service = stack.resource("aws_ecs_service")
    network = service["network_configuration"]
    assert network["assign_public_ip"] is True and network["subnets"] == data_output("public_subnet_ids")
    assert not [name for name in service["depends_on"] if name.startswith("aws_route.")]


def test_terraform_does_not_revert_cd_deploys_or_autoscaling(default):
    """The two properties that keep `terraform apply` from undoing CD and auto scaling."""
    stack = default["homu-fargate"]
    service = stack.resource("aws_ecs_service")
    task = stack.address("aws_ecs_task_definition", stack.resource("aws_ecs_task_definition"))
    (newest,) = stack.data("aws_ecs_task_definition")
    newest_body = stack.data("aws_ecs_task_definition")[newest]
    # 1. Tasks counts belong to auto scaling.
    assert "desired_count" in service["lifecycle"]["ignore_changes"]
    # 2. The service runs the newest revision of the family, whoever registered it (CD or Terraform) ...
    assert service["task_definition"] == (
        f"${{{task}.family}}:${{max({task}.revision, data.aws_ecs_task_definition.{newest}.revision)}}"
    )
    assert newest_body["task_definition"] == ref(task, "family") and newest_body["depends_on"] == [task]
    # ... and a Terraform-made revision runs the image CD last deployed, read from the parameter CD writes.
    parameter = stack.resource("aws_ssm_parameter")
    assert parameter["name"] == "/homu/image-tag" and parameter["insecure_value"] == "latest"
    assert parameter["lifecycle"] == {"ignore_changes": ["insecure_value"]}
    assert stack.outputs["image_tag_parameter"]["value"] == ref(
        stack.address("aws_ssm_parameter", parameter), "name"
    )


def test_auto_scaling_tracks_cpu_and_memory_within_the_configured_bounds(production):
    stack = production["homu-fargate"]
    target = stack.resource("aws_appautoscaling_target")
    assert (target["min_capacity"], target["max_capacity"]) == (2, 6)
    cluster = stack.address("aws_ecs_cluster", stack.resource("aws_ecs_cluster"))
    assert target["resource_id"] == f"service/${{{cluster}.name}}/homu-backend-service"
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    tracked = {
        p["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"][
            "predefined_metric_type"
        ]: p["target_tracking_scaling_policy_configuration"]["target_value"]
        for p in stack.resources("aws_appautoscaling_policy").values()
    }
    assert tracked == {"ECSServiceAverageCPUUtilization": 70, "ECSServiceAverageMemoryUtilization": 75}


def test_nights_and_weekends_scale_in_on_seoul_time(production):
    stack = production["homu-fargate"]
    actions = {a["name"]: a for a in stack.resources("aws_appautoscaling_scheduled_action").values()}
    off, work = actions["homu-backend-service-off-hours"], actions["homu-backend-service-working-hours"]
    assert (off["schedule"], off["timezone"]) == ("cron(0 20 ? * MON-FRI *)", "Asia/Seoul")
    assert off["scalable_target_action"] == {"min_capacity": "1", "max_capacity": "2"}
    assert (work["schedule"], work["timezone"]) == ("cron(0 8 ? * MON-FRI *)", "Asia/Seoul")
    assert work["scalable_target_action"] == {"min_capacity": "2", "max_capacity": "6"}
    # The schedule moves the bounds; Terraform must not move them back.
    assert stack.resource("aws_appautoscaling_target")["lifecycle"] == {
        "ignore_changes": ["min_capacity", "max_capacity"]
    }


def test_schedule_can_be_turned_off(synth):
    stack = synth(off_hours_scale_in=False)["homu-fargate"]
    assert stack.resources("aws_appautoscaling_scheduled_action") == {}
    assert "lifecycle" not in stack.resource("aws_appautoscaling_target")


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (0, [{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]),
        (100, [{"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0}]),
        (
            70,
            [
                {"capacity_provider": "FARGATE", "weight": 3, "base": 1},
                {"capacity_provider": "FARGATE_SPOT", "weight": 7, "base": 0},
            ],
        ),
        (
            50,
            [
                {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
                {"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0},
            ],
        ),
    ],
)
def test_spot_share_becomes_capacity_provider_weights(percent, expected):
    assert capacity_strategy(percent) == expected


def test_spot_share_reaches_the_service(synth):
    service = synth(fargate_spot_percent=70)["homu-fargate"].resource("aws_ecs_service")
    assert service["capacity_provider_strategy"] == capacity_strategy(70)


def test_task_size_comes_from_settings(synth):
    task = synth(fargate_cpu=1024, fargate_memory=4096)["homu-fargate"].resource("aws_ecs_task_definition")
    assert (task["cpu"], task["memory"]) == ("1024", "4096")


def test_service_alarms_cover_cpu_memory_health_checks_and_5xx(default):
    stack = default["homu-fargate"]
    alarms = {a["alarm_name"]: a for a in stack.resources("aws_cloudwatch_metric_alarm").values()}
    cpu, memory = alarms["homu-backend-service-cpu-high"], alarms["homu-backend-service-memory-high"]
    for alarm, metric in ((cpu, "CPUUtilization"), (memory, "MemoryUtilization")):
        assert (alarm["namespace"], alarm["metric_name"], alarm["threshold"]) == ("AWS/ECS", metric, 80)
        assert alarm["dimensions"] == {"ClusterName": "homu-cluster", "ServiceName": "homu-backend-service"}
    unhealthy = alarms["homu-alb-unhealthy-targets"]
    assert (unhealthy["metric_name"], unhealthy["threshold"], unhealthy["comparison_operator"]) == (
        "UnHealthyHostCount",
        0,
        "GreaterThanThreshold",
    )
    assert alarms["homu-alb-target-5xx"]["metric_name"] == "HTTPCode_Target_5XX_Count"


def test_fargate_outputs(default):
    outputs = default["homu-fargate"].outputs
    assert {"url", "alb_dns_name", "ecr_repository_url", "cluster_name", "service_name"} <= set(outputs)
    assert outputs["url"]["value"].startswith("http://${aws_lb.")


def test_container_matches_the_service_contract_and_image(default):
    """Port, user, health probe and variables: the task, contract.json and the Dockerfile agree."""
    from modules.settings import CONTRACT
    from tests.conftest import ROOT

    c = container(default["homu-fargate"])
    dockerfile = (ROOT / "backend" / "Dockerfile").read_text()
    assert c["portMappings"][0]["containerPort"] == CONTRACT["port"]
    assert c["user"] == CONTRACT["user"] and f"USER {CONTRACT['user']}" in dockerfile
    assert c["healthCheck"]["command"] == ["CMD", *CONTRACT["healthcheck"]]
    assert "CMD " + json.dumps(CONTRACT["healthcheck"]) in " ".join(dockerfile.split())
    names = {s["name"] for s in c["secrets"]} | {e["name"] for e in c["environment"]}
    assert names == set(CONTRACT["secrets"]) | set(CONTRACT["environment"])
