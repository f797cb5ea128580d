"""``homu-fargate``: option 1 of the guide, ECS Fargate behind an application load balancer."""

from __future__ import annotations

from cdktf import Annotations, TerraformOutput
from constructs import Construct

from modules.ci import FargateDeployAccess
from modules.dashboard import fargate_graphs
from modules.fargate_service import Container, FargateService, Image, InitContainer, Placement, Scaling
from modules.iam import RoleRef
from modules.load_balancer import Https, LoadBalancer
from modules.names import DATABASE_INIT, FARGATE_STACK
from modules.network import NatGateways
from modules.registry import Registry
from modules.settings import CONTRACT, Settings
from modules.stacks.compute import ComputeStack
from modules.stacks.data import DataStack


class FargateStack(ComputeStack):
    """Option 1 of the guide: ECS Fargate behind an application load balancer."""

    entry_kind = "load_balancer"
    app_group_suffix = "-sg"  # the guide's homu-backend-sg
    storage_services = ("ecr",)
    log_group_prefix = "/ecs"  # the guide's /ecs/homu-backend

    def __init__(
        self, scope: Construct, id_: str = FARGATE_STACK, *, settings: Settings, data: DataStack
    ) -> None:
        super().__init__(scope, id_, settings=settings, data=data)
        s = settings
        nat_routes = []
        if s.nat_gateway_count:
            # Tasks in private subnets reach ECR, Secrets Manager and CloudWatch through NAT.
            nat_routes = NatGateways(
                self,
                "nat",
                name=f"homu-{s.environment}",
                count=s.nat_gateway_count,
                public_subnet_ids=self.data.public_subnet_ids,
                private_route_table_ids=self.data.private_route_table_ids,
                zone_count=s.availability_zones,
            ).routes
        self.registry = Registry(
            self,
            "registry",
            name=s.app_name,
            keep_images=s.ecr_keep_images,
            force_delete=s.ecr_force_delete,
            kms_key_arn=self.key.arn,
            encryption=s.adoption.registry_encryption if s.adoption else "KMS",
        )
        self.load_balancer = LoadBalancer(
            self,
            "load-balancer",
            name=s.alb_name,
            vpc_id=self.data.vpc_id,
            subnet_ids=self.data.public_subnet_ids,
            security_group_id=self.security_groups.entry,
            target_port=s.app_port,
            health_check_path=s.health_check_path,
            deletion_protection=s.deletion_protection,
            tls=Https(
                domain_name=s.domain_name,
                hosted_zone=s.hosted_zone,
                certificate_arn=s.certificate_arn,
                alias=s.answers_domain(id_),
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
                environment={"API_V1_STR": s.api_v1_str, **self.data.app.variables},
                secrets=self.data.app.secrets,
                init=InitContainer(
                    name=DATABASE_INIT,
                    command=CONTRACT["database_init"]["command"],
                    environment=self.data.app.init_variables,
                    secrets=self.data.app.init_secrets,
                ),
            ),
            image=Image(
                repository_url=self.registry.repository_url,
                repository_arn=self.registry.arn,
                tag_parameter=s.image_tag_parameter,
                initial_tag=s.image_tag,
            ),
            secret_read_statements=self.data.app.read_statements,
            task_role=RoleRef(self.data.task_role_name, self.data.task_role_arn),
            app_statements=self.data.app.runtime_statements,
            log_group_name=self.app_logs.name,
            log_group_arn=self.app_logs.arn,
            placement=Placement(
                # Without NAT the tasks reach ECR and Secrets Manager through public IPs (docs/costs.md).
                subnet_ids=(
                    self.data.private_subnet_ids if s.nat_gateway_count else self.data.public_subnet_ids
                ),
                assign_public_ip=s.nat_gateway_count == 0,
                security_group_id=self.security_groups.app,
                target_group_arn=self.load_balancer.target_group_arn,
                prerequisites=[*self.load_balancer.listeners, *nat_routes],
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
            container_insights=s.container_insights,
        )
        self.add_dashboard(
            fargate_graphs(
                service=self.monitoring.watch_service(s.cluster_name, s.service_name),
                load_balancer=self.monitoring.watch_load_balancer(
                    s.alb_name, self.load_balancer.arn_suffix, self.load_balancer.target_group_arn_suffix
                ),
                container_insights=s.container_insights,
            )
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
                environment=s.github_deploy_environment,
                role_name=s.github_role_name("deploy-fargate"),
                ecr_repository_arn=self.registry.arn,
                service_arn=self.service.service_arn,
                task_role_arns=[self.service.execution_role_arn, self.service.task_role_arn],
                image_tag_parameter_arn=self.service.image_tag_parameter_arn,
            )
            TerraformOutput(self, "github_deploy_role_arn", value=deploy.role_arn)
