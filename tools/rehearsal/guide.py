"""The deployment guide (``docs/guide``'s source, the console clicks and CLI calls), replayed on the
emulator with its names and the console's defaults: what ``python -m tools.adopt`` takes over.

Everything sits in the region's default VPC and its default subnets. Both options are built in one
account (they share the data tier, as two readers of the guide would not, but nothing of one names
the other), plus decoys with similar names that adoption must leave alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modules.names import HTTP_PORT, HTTPS_PORT, INTERNET_V4, POSTGRES_PORT, REDIS_PORT
from tools.adopt.guide import SECRETS

# The guide's names (seed steps 1-8 and option 2's step 1).
REPOSITORY = "homu-backend"
DATABASE = "homu-db"
CACHE = "homu-redis"
CLUSTER = "homu-cluster"
TASK_FAMILY = "homu-backend-task"
SERVICE = "homu-backend-service"
LOAD_BALANCER = "homu-alb"
LOG_GROUP = "/ecs/homu-backend"
APP_PORT = 8000
SSH_PORT = 22
# Names the guide leaves to the reader; these are what a reader types (or the console proposes).
TARGET_GROUP = "homu-tg"
GROUPS = {
    "database": "homu-db-sg",
    "cache": "homu-redis-sg",
    "load_balancer": "homu-alb-sg",
    "tasks": "homu-backend-sg",
    "host": "launch-wizard-1",
}
HOST_NAME = "homu-backend"
# Resources a careless name match would take for the guide's.
DECOYS = {"database": "homu-db-old", "repository": "homu-backend-old", "group": "homu-db-sg-old"}
IMAGE_TAG = "latest"
GUIDE_PASSWORD = "typed-by-hand-1"  # the master password the guide has the reader type


@dataclass(frozen=True)
class GuideDeployment:
    vpc_id: str
    subnet_ids: list[str]
    group_ids: dict[str, str]  # GROUPS' keys -> id
    database_arn: str
    database_created: str  # InstanceCreateTime, ISO 8601
    image_digest: str
    instance_id: str
    resources: list[str]  # what the replay created, decoys included (rules not counted)


def replay(client: Callable[[str], Any]) -> GuideDeployment:
    """Builds the guide's deployment through ``client(service)`` (boto3 clients of the emulator, whose
    account holds an Ubuntu 22.04 image: ``tools.rehearsal.settings.prepare_account``)."""
    ec2, created = client("ec2"), []
    images = ec2.describe_images(
        Owners=["self"], Filters=[{"Name": "name", "Values": ["*ubuntu-jammy-22.04*"]}]
    )
    ami_id = images["Images"][0]["ImageId"]
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    subnet_ids = [s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]

    groups: dict[str, str] = {}
    for key, name in {**GROUPS, "decoy": DECOYS["group"]}.items():
        description = "Created by RDS management console" if key == "database" else f"{name} (console)"
        groups[key] = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id)[
            "GroupId"
        ]
        created.append(f"security group {name}")

    def world(group: str, *ports: int) -> None:
        ec2.authorize_security_group_ingress(
            GroupId=groups[group],
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": INTERNET_V4}]}
                for p in ports
            ],
        )

    def from_groups(group: str, port: int, *sources: str) -> None:
        ec2.authorize_security_group_ingress(
            GroupId=groups[group],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "UserIdGroupPairs": [{"GroupId": groups[s]} for s in sources],
                }
            ],
        )

    # Option 2's console defaults and the guide's "Backend security group: 8000 from 0.0.0.0/0".
    world("host", SSH_PORT, HTTP_PORT, HTTPS_PORT, APP_PORT)
    world("load_balancer", HTTP_PORT, HTTPS_PORT)
    world("tasks", APP_PORT)
    world("decoy", SSH_PORT)
    from_groups("database", POSTGRES_PORT, "tasks", "host")
    from_groups("cache", REDIS_PORT, "tasks", "host")

    # Step 1: the repository (AES-256, ECR's default) and the pushed image.
    ecr = client("ecr")
    for name in (REPOSITORY, DECOYS["repository"]):
        ecr.create_repository(repositoryName=name)
        created.append(f"repository {name}")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + "c" * 64,
            },
            "layers": [],
        }
    )
    image = ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag=IMAGE_TAG)["image"]

    # Step 3: the database, as the console's "dev/test" template makes it.
    rds = client("rds")
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"default-{vpc_id}",
        DBSubnetGroupDescription="Created from the RDS Management Console",
        SubnetIds=subnet_ids,
    )
    created.append("database subnet group")
    for identifier, group in ((DATABASE, "database"), (DECOYS["database"], "decoy")):
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            Engine="postgres",
            EngineVersion="15.4",
            DBInstanceClass="db.t3.micro",
            MasterUsername="postgres",
            MasterUserPassword=GUIDE_PASSWORD,
            DBName="homu_db",
            AllocatedStorage=20,
            MaxAllocatedStorage=1000,
            StorageType="gp2",
            # The guide's with the AWS-managed aws/rds key; the decoy unencrypted, which no setting mirrors.
            StorageEncrypted=identifier == DATABASE,
            PubliclyAccessible=False,
            BackupRetentionPeriod=7,
            DBSubnetGroupName=f"default-{vpc_id}",
            VpcSecurityGroupIds=[groups[group]],
        )
        created.append(f"database {identifier}")
    database = rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]

    # Step 4: the cache, cluster mode disabled, one node, no encryption (the console's defaults then).
    elasticache = client("elasticache")
    elasticache.create_cache_subnet_group(
        CacheSubnetGroupName="homu-redis-subnet-group",
        CacheSubnetGroupDescription="homu-redis",
        SubnetIds=subnet_ids,
    )
    elasticache.create_replication_group(
        ReplicationGroupId=CACHE,
        ReplicationGroupDescription=CACHE,
        Engine="redis",
        EngineVersion="7.1",
        CacheNodeType="cache.t2.micro",
        NumCacheClusters=1,
        CacheSubnetGroupName="homu-redis-subnet-group",
        SecurityGroupIds=[groups["cache"]],
        SnapshotRetentionLimit=0,
        SnapshotWindow="05:00-06:00",
    )
    created += ["cache subnet group", f"cache {CACHE}"]

    # The secrets the task definition reads: the database URL with the password in clear text.
    secrets = client("secretsmanager")
    values = {
        "homu/db-url": f"postgresql+asyncpg://postgres:{GUIDE_PASSWORD}@{database['Endpoint']['Address']}:5432/homu_db",
        "homu/redis-url": f"redis://{CACHE}.emulated.cache.amazonaws.com:6379/0",
        "homu/secret-key": "guide-secret-key-typed-by-hand-0123456789",
    }
    for name, value in values.items():
        secrets.create_secret(Name=name, SecretString=value)
    secrets.create_secret(Name="homu/db-url-old", SecretString="postgresql://old")
    created += [f"secret {name}" for name in (*values, "homu/db-url-old")]

    # Steps 5-8 (option 1): the cluster, the task definition, its log group, the ALB and the service.
    iam = client("iam")
    role_arn = iam.create_role(
        RoleName="ecsTaskExecutionRole",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="ecsTaskExecutionRole",
        PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    )
    client("logs").create_log_group(logGroupName=LOG_GROUP)
    ecs = client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    secret_arns = {name: secrets.describe_secret(SecretId=name)["ARN"] for name in SECRETS}
    ecs.register_task_definition(
        family=TASK_FAMILY,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        executionRoleArn=role_arn,
        containerDefinitions=[
            {
                "name": "homu-backend",
                "image": f"{image['registryId']}.dkr.ecr.ap-northeast-2.amazonaws.com/{REPOSITORY}:{IMAGE_TAG}",
                "portMappings": [{"containerPort": APP_PORT, "protocol": "tcp"}],
                "environment": [{"name": "API_V1_STR", "value": "/api/v1"}],
                "secrets": [
                    {"name": variable, "valueFrom": secret_arns[name]}
                    for variable, name in zip(
                        ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"), SECRETS, strict=True
                    )
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": LOG_GROUP,
                        "awslogs-region": "ap-northeast-2",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    )
    elbv2 = client("elbv2")
    balancer = elbv2.create_load_balancer(
        Name=LOAD_BALANCER,
        Subnets=subnet_ids[:2],
        SecurityGroups=[groups["load_balancer"]],
        Scheme="internet-facing",
        Type="application",
    )["LoadBalancers"][0]
    targets = elbv2.create_target_group(
        Name=TARGET_GROUP,
        Protocol="HTTP",
        Port=APP_PORT,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
    )["TargetGroups"][0]
    # HTTPS (443) needs a certificate the guide never makes; its listener is HTTP only.
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=HTTP_PORT,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": targets["TargetGroupArn"]}],
    )
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=TASK_FAMILY,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": subnet_ids[:1],
                "securityGroups": [groups["tasks"]],
                "assignPublicIp": "ENABLED",
            }
        },
        loadBalancers=[
            {
                "targetGroupArn": targets["TargetGroupArn"],
                "containerName": "homu-backend",
                "containerPort": APP_PORT,
            }
        ],
    )
    created += [
        "role ecsTaskExecutionRole", f"log group {LOG_GROUP}", f"cluster {CLUSTER}", f"task definition {TASK_FAMILY}",
        f"load balancer {LOAD_BALANCER}", f"target group {TARGET_GROUP}", "listener 80", f"service {SERVICE}",
        f"image {REPOSITORY}:{IMAGE_TAG}",
    ]  # fmt: skip

    # Option 2, step 1: the t3.small Ubuntu 22.04 host with a public IP in a default subnet.
    instance = ec2.run_instances(
        ImageId=ami_id,
        InstanceType="t3.small",
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {
                "DeviceIndex": 0,
                "SubnetId": subnet_ids[0],
                "Groups": [groups["host"]],
                "AssociatePublicIpAddress": True,
            }
        ],
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3"}}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": HOST_NAME}]}],
    )["Instances"][0]
    created.append(f"host {HOST_NAME}")
    return GuideDeployment(
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        group_ids=groups,
        database_arn=database["DBInstanceArn"],
        database_created=database["InstanceCreateTime"].isoformat(),
        image_digest=image["imageId"]["imageDigest"],
        instance_id=instance["InstanceId"],
        resources=created,
    )
