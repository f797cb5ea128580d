"""The three stacks. Composition only: every resource lives in the construct named after its concern.

``homu-state`` bootstraps the remote state bucket on a local backend. ``homu-fargate`` and
``homu-ec2`` share everything but the compute: network, security groups, PostgreSQL, Redis,
secrets and monitoring come from ``ApplicationStack``; the subclasses add compute and entry.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from cdktf import Annotations, LocalBackend, S3Backend, TerraformOutput, TerraformStack
from constructs import Construct

from modules import aws
from modules.cache import Cache
from modules.ci import Ec2DeployAccess, FargateDeployAccess, GithubPlanAccess
from modules.database import Database
from modules.ec2_host import AmiLookup, Checkout, DnsName, Ec2Host
from modules.fargate_service import Container, FargateService, Image, Placement, Scaling
from modules.kms import EncryptionKey, KeyUsers
from modules.load_balancer import Https, LoadBalancer
from modules.monitoring import Monitoring
from modules.names import EC2_STACK, EMULATED_SERVICES, FARGATE_STACK, POSTGRES_PORT, REDIS_PORT, STATE_STACK
from modules.network import Network
from modules.registry import Registry
from modules.secrets import AppSecrets
from modules.security_groups import SecurityGroups
from modules.settings import CONTRACT, Settings
from modules.state_bucket import StateBucket

# use_lockfile (S3-native locking) needs 1.10; write-only secret values need 1.11.
REQUIRED_TERRAFORM = ">= 1.11"


class _HomuStack(TerraformStack):
    """Provider and Terraform version, common to every stack."""

    def __init__(self, scope: Construct, id_: str, *, settings: Settings) -> None:
        super().__init__(scope, id_)
        self.settings = settings
        provider = aws.provider.AwsProvider(
            self,
            "aws",
            region=settings.region,
            default_tags=[
                aws.provider.AwsProviderDefaultTags(
                    tags={
                        "Project": "homu",
                        "Environment": settings.environment,
                        "Stack": id_,
                        "ManagedBy": "cdktf",
                    }
                )
            ],
        )
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        if settings.endpoint_url:
            # Deploy rehearsal only (python -m tools.rehearsal): every API call goes to the local emulator.
            url = settings.endpoint_url
            provider.endpoints = [aws.provider.AwsProviderEndpoints(**{s: url for s in EMULATED_SERVICES})]
            provider.s3_use_path_style = True
            provider.skip_credentials_validation = True
            provider.skip_metadata_api_check = "true"


class StateStack(_HomuStack):
    def __init__(self, scope: Construct, id_: str = STATE_STACK, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        # The bucket cannot hold the state of the stack that creates it; this state stays local
        # (terraform.homu-state.tfstate in the project directory, relative to cdktf.out/stacks/homu-state).
        LocalBackend(self, path="../../../terraform.homu-state.tfstate")
        # An S3 ARN follows from the name alone, so the plan role can be named in the key's policy
        # before the bucket that uses the key exists.
        bucket_arn = f"arn:aws:s3:::{settings.state_bucket}"
        github = None
        if settings.github_repository:
            github = GithubPlanAccess(
                self,
                "github",
                repository=settings.github_repository,
                state_bucket_arn=bucket_arn,
                secret_prefix=settings.secret_prefix,
                region=settings.region,
            )
            TerraformOutput(self, "github_plan_role_arn", value=github.plan_role_arn)
        key_users = settings.state_key_users
        key = EncryptionKey(
            self,
            "encryption",
            alias=settings.state_key_alias,
            description="Terraform state of every stack",
            region=settings.region,
            # Without this key no state can be read: always the longest window to undo a deletion.
            deletion_window_days=30,
            users=KeyUsers(
                principals=(*key_users, *([github.plan_role_arn] if github and key_users else []))
            ),
        )
        bucket = StateBucket(self, "state", bucket_name=settings.state_bucket, kms_key_arn=key.arn)
        TerraformOutput(self, "state_bucket", value=bucket.bucket_name)
        TerraformOutput(self, "state_bucket_arn", value=bucket.bucket_arn)


class ApplicationStack(_HomuStack):
    """The shared tier of both architectures on the S3 backend. Subclasses add the compute."""

    entry_kind: ClassVar[Literal["load_balancer", "host"]]
    # Whether the compute sits in private subnets and reaches AWS APIs through NAT gateways.
    uses_nat: ClassVar[bool]
    # The services that store the compute's data with the stack's key (images, volumes).
    storage_services: ClassVar[tuple[str, ...]]

    def __init__(self, scope: Construct, id_: str, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        # The state is encrypted with the state key, so reading it needs kms:Decrypt on that key too.
        S3Backend(
            self,
            bucket=s.state_bucket,
            key=s.state_key(id_),
            region=s.region,
            encrypt=True,
            kms_key_id=f"alias/{s.state_key_alias}",
        )
        # S3-native locking (a .tflock object beside the state); cdktf 0.21's S3Backend lacks the field.
        self.add_override("terraform.backend.s3.use_lockfile", True)
        if s.endpoint_url:
            for key, value in (
                ("endpoints", {"s3": s.endpoint_url, "sts": s.endpoint_url, "iam": s.endpoint_url}),
                ("use_path_style", True),
                ("skip_credentials_validation", True),
                ("skip_metadata_api_check", True),
            ):
                self.add_override(f"terraform.backend.s3.{key}", value)

        self.key = EncryptionKey(
            self,
            "encryption",
            alias=f"homu-{s.environment}-{id_.removeprefix('homu-')}",
            description="logs, secrets, alerts, cache, database and the compute's storage",
            region=s.region,
            deletion_window_days=s.kms_deletion_window_days,
            users=KeyUsers(
                log_groups=True,
                topic_publishers=("cloudwatch.amazonaws.com", "events.rds.amazonaws.com"),
                storage_services=self.storage_services,
            ),
        )
        self.network = Network(
            self,
            "network",
            name=f"homu-{s.environment}",
            cidr=s.vpc_cidr,
            region=s.region,
            zone_count=s.availability_zones,
            nat_gateways=s.nat_gateway_count if self.uses_nat else 0,
            flow_log_retention_days=s.log_retention_days,
            kms_key_arn=self.key.arn,
            admin_cidr=s.admin_cidr,
        )
        self.security_groups = SecurityGroups(
            self,
            "security-groups",
            vpc_id=self.network.vpc_id,
            entry_kind=self.entry_kind,
            entry_name=s.alb_name,
            app_name=s.app_name,
            database_name=s.db_identifier,
            cache_name=s.redis_id,
            app_port=s.app_port,
            admin_cidr=s.admin_cidr,
        )
        self.database = Database(
            self,
            "database",
            identifier=s.db_identifier,
            db_name=s.db_name,
            username=s.db_username,
            instance_class=s.db_instance_class,
            allocated_storage=s.db_allocated_storage,
            max_allocated_storage=s.db_max_allocated_storage,
            backup_retention_days=s.db_backup_retention_days,
            multi_az=s.db_multi_az,
            deletion_protection=s.deletion_protection,
            subnet_ids=self.network.private_subnet_ids,
            security_group_id=self.security_groups.database,
            log_retention_days=s.log_retention_days,
            kms_key_arn=self.key.arn,
            region=s.region,
        )
        self.cache = Cache(
            self,
            "cache",
            replication_group_id=s.redis_id,
            node_type=s.redis_node_type,
            engine_version=s.redis_engine_version,
            cache_clusters=s.redis_num_cache_clusters,
            subnet_ids=self.network.private_subnet_ids,
            security_group_id=self.security_groups.cache,
            token_secret_name=f"{s.secret_prefix}/redis-auth-token",
            secret_recovery_days=s.secret_recovery_days,
            kms_key_arn=self.key.arn,
        )
        self.secrets = AppSecrets(
            self,
            "secrets",
            prefix=s.secret_prefix,
            database_url=(
                f"postgresql+asyncpg://{s.db_username}@{self.database.address}:{POSTGRES_PORT}/{s.db_name}"
            ),
            # rediss:// because the cache only speaks TLS.
            redis_url=f"rediss://{self.cache.address}:{REDIS_PORT}/0",
            database_credentials_arn=self.database.master_secret_arn,
            redis_token_arn=self.cache.token_secret_arn,
            recovery_days=s.secret_recovery_days,
            kms_key_arn=self.key.arn,
        )
        self.monitoring = Monitoring(
            self,
            "monitoring",
            log_group_name=f"/ecs/{s.app_name}",
            log_retention_days=s.log_retention_days,
            topic_name=f"homu-{s.environment}-alerts",
            alert_email=s.alert_email,
            kms_key_arn=self.key.arn,
        )
        self.monitoring.watch_database(s.db_identifier)
        self.monitoring.notify_database_events(self.database.identifier)
        self.monitoring.watch_cache(s.redis_id, s.redis_num_cache_clusters)

        TerraformOutput(self, "database_endpoint", value=self.database.address)
        TerraformOutput(self, "database_master_secret_arn", value=self.database.master_secret_arn)
        TerraformOutput(self, "redis_endpoint", value=self.cache.address)
        TerraformOutput(
            self,
            "secret_arns",
            value={name: ref.value_from for name, ref in self.secrets.variables.items()},
        )
        TerraformOutput(self, "log_group", value=self.monitoring.log_group_name)
        TerraformOutput(self, "alert_topic_arn", value=self.monitoring.topic_arn)
        TerraformOutput(self, "vpc_id", value=self.network.vpc_id)


class FargateStack(ApplicationStack):
    """Option 1 of the guide: ECS Fargate behind an application load balancer."""

    entry_kind = "load_balancer"
    uses_nat = True  # tasks in private subnets reach ECR, Secrets Manager and CloudWatch through NAT
    storage_services = ("ecr",)

    def __init__(self, scope: Construct, id_: str = FARGATE_STACK, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        self.registry = Registry(
            self,
            "registry",
            name=s.app_name,
            keep_images=s.ecr_keep_images,
            force_delete=s.ecr_force_delete,
            kms_key_arn=self.key.arn,
        )
        self.load_balancer = LoadBalancer(
            self,
            "load-balancer",
            name=s.alb_name,
            vpc_id=self.network.vpc_id,
            subnet_ids=self.network.public_subnet_ids,
            security_group_id=self.security_groups.entry,
            target_port=s.app_port,
            health_check_path=s.health_check_path,
            deletion_protection=s.deletion_protection,
            tls=Https(
                domain_name=s.domain_name, hosted_zone=s.hosted_zone, certificate_arn=s.certificate_arn
            ),
            region=s.region,
            firewall=s.waf,
            log_retention_days=s.log_retention_days,
            kms_key_arn=self.key.arn,
        )
        if not self.load_balancer.https:
            Annotations.of(self).add_warning(
                f"{id_}: the load balancer serves plain HTTP on port 80 because neither hosted_zone nor "
                "certificate_arn is set; set HOMU_DOMAIN_NAME with HOMU_HOSTED_ZONE (or HOMU_CERTIFICATE_ARN) for HTTPS"
            )
        self.service = FargateService(
            self,
            "service",
            cluster_name=s.cluster_name,
            family=s.task_family,
            service_name=s.service_name,
            region=s.region,
            container=Container(
                name=s.app_name,
                user=CONTRACT["user"],
                health_command=CONTRACT["healthcheck"],
                port=s.app_port,
                cpu=s.fargate_cpu,
                memory=s.fargate_memory,
                environment={"API_V1_STR": s.api_v1_str},
                secrets=self.secrets.variables,
            ),
            image=Image(
                repository_url=self.registry.repository_url,
                repository_arn=self.registry.arn,
                tag_parameter=f"/{s.secret_prefix}/image-tag",
                initial_tag=s.image_tag,
            ),
            secret_read_statements=self.secrets.read_statements,
            log_group_name=self.monitoring.log_group_name,
            log_group_arn=self.monitoring.log_group_arn,
            placement=Placement(
                # Without NAT the tasks reach ECR and Secrets Manager through public IPs (README "Costs").
                subnet_ids=(
                    self.network.private_subnet_ids
                    if self.network.nat_gateway_count
                    else self.network.public_subnet_ids
                ),
                assign_public_ip=self.network.nat_gateway_count == 0,
                security_group_id=self.security_groups.app,
                target_group_arn=self.load_balancer.target_group_arn,
                listeners=self.load_balancer.listeners,
            ),
            scaling=Scaling(
                desired=s.desired_count,
                minimum=s.min_capacity,
                maximum=s.max_capacity,
                spot_percent=s.fargate_spot_percent,
                off_hours=(s.off_hours_min_capacity, s.off_hours_max_capacity)
                if s.off_hours_scale_in
                else None,
            ),
        )
        self.monitoring.watch_service(s.cluster_name, s.service_name)
        self.monitoring.watch_load_balancer(
            s.alb_name, self.load_balancer.arn_suffix, self.load_balancer.target_group_arn_suffix
        )
        TerraformOutput(self, "url", value=self.load_balancer.url)
        TerraformOutput(self, "alb_dns_name", value=self.load_balancer.dns_name)
        TerraformOutput(self, "ecr_repository_url", value=self.registry.repository_url)
        TerraformOutput(self, "cluster_name", value=self.service.cluster_name)
        TerraformOutput(self, "service_name", value=self.service.service_name)
        TerraformOutput(self, "image_tag_parameter", value=self.service.image_tag_parameter)
        if s.github_repository:
            deploy = FargateDeployAccess(
                self,
                "github-deploy",
                repository=s.github_repository,
                ref=s.github_deploy_ref,
                ecr_repository_arn=self.registry.arn,
                service_arn=self.service.service_arn,
                task_role_arns=[self.service.execution_role_arn, self.service.task_role_arn],
                image_tag_parameter_arn=self.service.image_tag_parameter_arn,
            )
            TerraformOutput(self, "github_deploy_role_arn", value=deploy.role_arn)


class Ec2Stack(ApplicationStack):
    """Option 2 of the guide: one EC2 host running Docker Compose."""

    entry_kind = "host"
    uses_nat = False  # the host sits in a public subnet; the database and cache need no internet route
    storage_services = ("ec2",)

    def __init__(self, scope: Construct, id_: str = EC2_STACK, *, settings: Settings) -> None:
        super().__init__(scope, id_, settings=settings)
        s = settings
        self.host = Ec2Host(
            self,
            "host",
            name=s.app_name,
            instance_type=s.ec2_instance_type,
            volume_size=s.ec2_volume_size,
            kms_key_arn=self.key.arn,
            subnet_id=self.network.public_subnet_ids[0],
            security_group_id=self.security_groups.app,
            region=s.region,
            key_name=s.ec2_key_name,
            ami=AmiLookup(owner=s.ami_owner, name_pattern=s.ami_name_pattern),
            checkout=Checkout(repository=s.app_repository, ref=s.app_ref, compose_dir=s.compose_dir),
            secrets=self.secrets.variables,
            secret_read_statements=self.secrets.read_statements,
            environment={"API_V1_STR": s.api_v1_str, **({"DOMAIN": s.domain_name} if s.domain_name else {})},
        )
        if s.app_repository == Settings.model_fields["app_repository"].default:
            Annotations.of(self).add_warning(
                f"{id_}: the host will clone the guide's placeholder repository {s.app_repository}; "
                "set HOMU_APP_REPOSITORY (and HOMU_APP_REF) to your own before deploying"
            )
        if s.hosted_zone and s.domain_name:
            DnsName(self, "dns", zone=s.hosted_zone, name=s.domain_name, address=self.host.public_ip)
        self.monitoring.watch_host(s.app_name, self.host.instance_id, s.region)
        scheme = "https" if s.domain_name else "http"
        TerraformOutput(self, "url", value=f"{scheme}://{s.domain_name or self.host.public_ip}")
        TerraformOutput(self, "public_ip", value=self.host.public_ip)
        TerraformOutput(self, "instance_id", value=self.host.instance_id)
        if s.github_repository:
            deploy = Ec2DeployAccess(
                self,
                "github-deploy",
                repository=s.github_repository,
                ref=s.github_deploy_ref,
                region=s.region,
                instance_arn=self.host.instance_arn,
            )
            TerraformOutput(self, "github_deploy_role_arn", value=deploy.role_arn)
        TerraformOutput(
            self,
            "shell_command",
            value=f"aws ssm start-session --region {s.region} --target {self.host.instance_id}",
        )
