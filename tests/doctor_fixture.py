"""A deployed homu-data + homu-fargate + homu-ec2, made through the emulator's API as the stacks make it
(names, groups and rules, the database with its parameter group, the cache with its IAM user, the
registry with an image, the task definition with its secret, the execution role's policy, the service,
the host), and the three state objects holding the outputs the doctor reads. Faults are then made
through the same API, as a hand edit in the console would make them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from modules.settings import Settings, validate

REGION = "ap-northeast-2"
TAG = "v1"
EXECUTION_POLICY = "pull-image-read-secrets-write-logs"


@dataclass
class Deployment:
    settings: Settings
    ids: dict[str, str] = field(default_factory=dict)  # what the faults and assertions name
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _state(client, settings: Settings, stack: str, outputs: dict[str, Any]) -> None:
    state = {"version": 4, "serial": 1, "outputs": {k: {"value": v, "type": "string"} for k, v in outputs.items()}, "resources": []}  # fmt: skip
    client("s3").put_object(
        Bucket=settings.state_bucket, Key=settings.state_key(stack), Body=json.dumps(state).encode()
    )


def _statement(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def deploy(client, url: str) -> Deployment:
    """``client(service)`` is the emulator's admin client; ``url`` its endpoint (the doctor's setting)."""
    settings = validate({"region": REGION, "endpoint_url": url})
    d = Deployment(settings)
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        name: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
        for name, cidr, zone in (
            ("public-a", "10.0.0.0/24", "a"), ("public-c", "10.0.1.0/24", "c"),
            ("private-a", "10.0.10.0/24", "a"), ("private-c", "10.0.11.0/24", "c"),
        )
    }  # fmt: skip
    public, private = [subnets["public-a"], subnets["public-c"]], [subnets["private-a"], subnets["private-c"]]
    groups = {}
    for name in ("homu-db-sg", "homu-redis-sg", "homu-alb-sg", "homu-backend-sg", "homu-backend-host-sg"):
        groups[name] = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        # Terraform removes the default allow-all egress of every group it makes.
        ec2.revoke_security_group_egress(GroupId=groups[name], IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip

    def rule(direction: str, group: str, port: int, peer: str) -> None:
        permission = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": groups[peer]}]}  # fmt: skip
        getattr(ec2, f"authorize_security_group_{direction}")(
            GroupId=groups[group], IpPermissions=[permission]
        )

    for app in ("homu-backend-sg", "homu-backend-host-sg"):
        rule("ingress", "homu-db-sg", 5432, app)
        rule("ingress", "homu-redis-sg", 6379, app)
        rule("egress", app, 5432, "homu-db-sg")
        rule("egress", app, 6379, "homu-redis-sg")
    rule("ingress", "homu-backend-sg", 8000, "homu-alb-sg")
    d.ids.update(vpc=vpc, **{f"sg:{k}": v for k, v in groups.items()})

    key = client("kms").create_key(Description="homu-dev-data")["KeyMetadata"]["Arn"]
    rds = client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName="homu-db-subnets", DBSubnetGroupDescription="private", SubnetIds=private)  # fmt: skip
    rds.create_db_parameter_group(DBParameterGroupName="homu-db-pg15", DBParameterGroupFamily="postgres15", Description="tls")  # fmt: skip
    rds.modify_db_parameter_group(
        DBParameterGroupName="homu-db-pg15",
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}],
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier="homu-db", DBInstanceClass="db.t3.micro", Engine="postgres", EngineVersion="15",
        AllocatedStorage=20, MasterUsername="homu", ManageMasterUserPassword=True, MasterUserSecretKmsKeyId=key,
        DBSubnetGroupName="homu-db-subnets", DBParameterGroupName="homu-db-pg15", VpcSecurityGroupIds=[groups["homu-db-sg"]],
        DBName="homu", StorageEncrypted=True, EnableIAMDatabaseAuthentication=True,
    )["DBInstance"]  # fmt: skip
    db_host, secret = db["Endpoint"]["Address"], db["MasterUserSecret"]["SecretArn"]

    cache = client("elasticache")
    cache.create_user(UserId="homu-redis-app", UserName="homu-redis-app", Engine="redis", AccessString="on ~* +@all", AuthenticationMode={"Type": "iam"})  # fmt: skip
    cache.create_user(UserId="homu-redis-default", UserName="default", Engine="redis", AccessString="off -@all", NoPasswordRequired=True)  # fmt: skip
    cache.create_user_group(UserGroupId="homu-redis-users", Engine="redis", UserIds=["homu-redis-default", "homu-redis-app"])  # fmt: skip
    cache.create_cache_subnet_group(CacheSubnetGroupName="homu-redis-subnets", CacheSubnetGroupDescription="private", SubnetIds=private)  # fmt: skip
    group = cache.create_replication_group(
        ReplicationGroupId="homu-redis", ReplicationGroupDescription="cache", Engine="redis", EngineVersion="7.1",
        CacheNodeType="cache.t3.micro", NumCacheClusters=1, CacheSubnetGroupName="homu-redis-subnets",
        SecurityGroupIds=[groups["homu-redis-sg"]], TransitEncryptionEnabled=True, AtRestEncryptionEnabled=True,
        UserGroupIds=["homu-redis-users"],
    )["ReplicationGroup"]  # fmt: skip
    redis_host = group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]

    data = {
        "vpc_id": vpc, "public_subnet_ids": public, "private_subnet_ids": private,
        "database_security_group_id": groups["homu-db-sg"], "cache_security_group_id": groups["homu-redis-sg"],
        "database_url": f"postgresql+asyncpg://homu_app@{db_host}:5432/homu",
        "database_admin_url": f"postgresql+asyncpg://homu@{db_host}:5432/homu",
        "database_password_secret_arn": secret, "secrets_key_arn": key,
        "redis_url": f"rediss://homu-redis-app@{redis_host}:6379/0", "cache_id": "homu-redis",
        "database_endpoint": db_host, "redis_endpoint": redis_host,
    }  # fmt: skip
    d.ids.update(secret=secret, key=key, db_host=db_host)
    client("s3").create_bucket(
        Bucket=settings.state_bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    _state(client, settings, "homu-data", data)
    d.outputs["homu-data"] = data
    _fargate(client, d, data, public, private, groups)
    _host(client, d, data, public, groups)
    return d


def _fargate(client, d: Deployment, data, public, private, groups) -> None:
    ecr = client("ecr")
    repository = ecr.create_repository(repositoryName="homu-backend")["repository"]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": "sha256:" + "1" * 64, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"},
                "layers": []}  # fmt: skip
    ecr.put_image(repositoryName="homu-backend", imageManifest=json.dumps(manifest), imageTag=TAG)
    client("ssm").put_parameter(Name="/homu/image-tag", Value=TAG, Type="String")
    client("logs").create_log_group(logGroupName="/ecs/homu-backend")
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    execution = iam.create_role(RoleName="homu-backend-task-execution", AssumeRolePolicyDocument=json.dumps(trust))["Role"]  # fmt: skip
    task_role = iam.create_role(
        RoleName="homu-backend-task-task", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    policy = {"Version": "2012-10-17", "Statement": [
        _statement("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"]),
        _statement("PullThisRepository", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [repository["repositoryArn"]]),
        _statement("ReadTheMasterPassword", ["secretsmanager:GetSecretValue"], [data["database_password_secret_arn"]]),
        _statement("DecryptTheSecrets", ["kms:Decrypt"], [data["secrets_key_arn"]],
                   Condition={"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}),
    ]}  # fmt: skip
    iam.put_role_policy(RoleName="homu-backend-task-execution", PolicyName=EXECUTION_POLICY, PolicyDocument=json.dumps(policy))  # fmt: skip
    elb = client("elbv2")
    balancer = elb.create_load_balancer(Name="homu-alb", Subnets=public, SecurityGroups=[groups["homu-alb-sg"]])["LoadBalancers"][0]  # fmt: skip
    target_group = elb.create_target_group(Name="homu-alb-tg", Protocol="HTTP", Port=8000, VpcId=data["vpc_id"],
                                           TargetType="ip", HealthCheckPath="/api/v1/health")["TargetGroups"][0]  # fmt: skip
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group["TargetGroupArn"]}])  # fmt: skip
    ecs = client("ecs")
    ecs.create_cluster(clusterName="homu-cluster")
    image = f"{repository['repositoryUri']}:{TAG}"
    password = f"{data['database_password_secret_arn']}:password::"
    definition = register(client, image, execution["Arn"], task_role["Arn"], data, password)
    ecs.create_service(
        cluster="homu-cluster", serviceName="homu-backend-service", taskDefinition=definition, desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": private, "securityGroups": [groups["homu-backend-sg"]], "assignPublicIp": "DISABLED"}},
        loadBalancers=[{"targetGroupArn": target_group["TargetGroupArn"], "containerName": "homu-backend", "containerPort": 8000}],
    )  # fmt: skip
    outputs = {"cluster_name": "homu-cluster", "service_name": "homu-backend-service", "image_tag_parameter": "/homu/image-tag",
               "log_group": "/ecs/homu-backend", "ecr_repository_url": repository["repositoryUri"]}  # fmt: skip
    _state(client, d.settings, "homu-fargate", outputs)
    d.outputs["homu-fargate"] = outputs
    d.ids.update(execution_role="homu-backend-task-execution", task_role=task_role["Arn"], image=image, repository=repository["repositoryUri"])  # fmt: skip


def register(client, image: str, execution: str, task_role: str, data: dict[str, Any], password: str) -> str:
    """A revision of the task definition as modules/fargate_service.py writes it (db-init, then the app)."""
    environment = [{"name": "DATABASE_URL", "value": data["database_url"]}, {"name": "REDIS_URL", "value": data["redis_url"]}]  # fmt: skip
    containers = [
        {"name": "db-init", "image": image, "essential": False, "secrets": [{"name": "DATABASE_PASSWORD", "valueFrom": password}],
         "environment": [{"name": "DATABASE_URL", "value": data["database_admin_url"]}]},
        {"name": "homu-backend", "image": image, "essential": True, "environment": environment,
         "portMappings": [{"containerPort": 8000}], "dependsOn": [{"containerName": "db-init", "condition": "SUCCESS"}]},
    ]  # fmt: skip
    answer = client("ecs").register_task_definition(
        family="homu-backend-task", containerDefinitions=containers, executionRoleArn=execution, taskRoleArn=task_role,
        networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="512", memory="1024",
    )  # fmt: skip
    return answer["taskDefinition"]["taskDefinitionArn"]


def _host(client, d: Deployment, data, public, groups) -> None:
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    iam.create_role(RoleName="homu-backend-host", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_instance_profile(InstanceProfileName="homu-backend-host")
    iam.add_role_to_instance_profile(InstanceProfileName="homu-backend-host", RoleName="homu-backend-host")
    ec2 = client("ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    # The part of the host's render script (modules/ec2/render-env.sh) that writes the env files.
    script = (f"app_entries() {{\n  entry DATABASE_URL '{data['database_url']}'\n  entry REDIS_URL '{data['redis_url']}'\n}}\n"
              f"init_entries() {{\n  entry DATABASE_URL '{data['database_admin_url']}'\n}}\n")  # fmt: skip
    instance = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.small", SubnetId=public[0],
        SecurityGroupIds=[groups["homu-backend-host-sg"]], IamInstanceProfile={"Name": "homu-backend-host"},
        UserData=base64.b64encode(script.encode()).decode(),
    )["Instances"][0]  # fmt: skip
    outputs = {"instance_id": instance["InstanceId"], "public_ip": instance.get("PublicIpAddress", "")}
    _state(client, d.settings, "homu-ec2", outputs)
    d.outputs["homu-ec2"] = outputs
    d.ids["instance"] = instance["InstanceId"]
