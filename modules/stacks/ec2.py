"""``homu-ec2``: option 2 of the guide, one EC2 host running Docker Compose."""

from __future__ import annotations

from cdktf import Annotations, Fn, TerraformOutput
from constructs import Construct

from modules.ci import Ec2DeployAccess
from modules.dashboard import host_graphs
from modules.ec2_host import CHECKOUT_DIR, UNIT, AmiLookup, Checkout, DnsName, Ec2Host, EnvFiles
from modules.names import EC2_STACK
from modules.settings import Settings
from modules.stacks.compute import ComputeStack
from modules.stacks.data import DataStack


class Ec2Stack(ComputeStack):
    """Option 2 of the guide: one EC2 host running Docker Compose."""

    entry_kind = "host"
    app_group_suffix = "-host-sg"  # beside the Fargate tasks' group in the same VPC
    storage_services = ("ec2",)
    log_group_prefix = "/ec2"  # beside option 1's /ecs/homu-backend in the same account

    def __init__(
        self, scope: Construct, id_: str = EC2_STACK, *, settings: Settings, data: DataStack
    ) -> None:
        super().__init__(scope, id_, settings=settings, data=data)
        s = settings
        self.host = Ec2Host(
            self,
            "host",
            name=s.app_name,
            instance_type=s.ec2_instance_type,
            volume_size=s.ec2_volume_size,
            detailed_monitoring=s.ec2_detailed_monitoring,
            kms_key_arn=self.key.arn,
            subnet_id=Fn.element(self.data.public_subnet_ids, 0),
            security_group_id=self.security_groups.app,
            region=s.region,
            key_name=s.ec2_key_name,
            ami=AmiLookup(owner=s.ami_owner, name_pattern=s.ami_name_pattern),
            checkout=Checkout(repository=s.app_repository, ref=s.app_ref, compose_dir=s.compose_dir),
            env_files=EnvFiles(
                app={
                    "API_V1_STR": s.api_v1_str,
                    # ECS sets AWS_REGION for a task; on the host the app signs its tokens with it.
                    "AWS_REGION": s.region,
                    **self.data.app.variables,
                    **({"DOMAIN": s.domain_name} if s.domain_name else {}),
                },
                init=self.data.app.init_variables,
                init_secrets=self.data.app.init_secrets,
            ),
            role_name=self.data.host_role_name,
            statements=[*self.data.app.read_statements, *self.data.app.runtime_statements],
            log_group_name=self.app_logs.name,
            log_group_arn=self.app_logs.arn,
        )
        if s.app_repository == Settings.model_fields["app_repository"].default:
            Annotations.of(self).add_warning(
                f"{id_}: the host will clone the guide's placeholder repository {s.app_repository}; "
                "set HOMU_APP_REPOSITORY (and HOMU_APP_REF) to your own before deploying"
            )
        # Caddy keeps DOMAIN either way: it obtains the certificate once the name points here.
        answers = s.answers_domain(id_)
        if s.hosted_zone and answers:
            DnsName(self, "dns", zone=s.hosted_zone, name=s.domain_name, address=self.host.public_ip)
        if s.hosted_zone and s.domain_name and not answers:
            Annotations.of(self).add_warning(
                f"{id_}: {s.domain_name} points at {s.dns_target} (dns_target), so the host is reached by its "
                "address and Caddy gets no certificate; set HOMU_DNS_TARGET=homu-ec2 when it serves the domain"
            )
        self.add_dashboard(
            host_graphs(self.monitoring.watch_host(s.app_name, self.host.instance_id, s.region))
        )
        TerraformOutput(
            self, "url", value=f"https://{s.domain_name}" if answers else f"http://{self.host.public_ip}"
        )
        TerraformOutput(self, "public_ip", value=self.host.public_ip)
        TerraformOutput(self, "instance_id", value=self.host.instance_id)
        if s.github_repository:
            deploy = Ec2DeployAccess(
                self,
                "github-deploy",
                repository=s.github_repository,
                environment=s.github_deploy_environment,
                role_name=s.github_role_name("deploy-ec2"),
                document_name=s.deploy_document,
                checkout_dir=CHECKOUT_DIR,
                unit=UNIT,
                instance_arn=self.host.instance_arn,
            )
            TerraformOutput(self, "github_deploy_role_arn", value=deploy.role_arn)
            TerraformOutput(self, "deploy_document", value=deploy.document_name)
        TerraformOutput(
            self,
            "shell_command",
            value=f"aws ssm start-session --region {s.region} --target {self.host.instance_id}",
        )
