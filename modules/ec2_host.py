"""Option 2 of the guide: one Ubuntu 22.04 host running the backend with Docker Compose.

Changes from the guide, which opened SSH and 8000 to the world and had the operator type secrets
into ``.env``: Session Manager instead of SSH (22 opens only to a configured admin network), the
app reached only through the reverse proxy on 80/443, and the env files rendered at every start:
the app's ``.env`` holds no secret (it signs in with IAM tokens), and ``db-init.env`` holds the master
password read from Secrets Manager with the instance role for the one-shot ``app.dbinit``, so no
secret is ever in user data or in Terraform.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from constructs import Construct

from modules import aws, iam
from modules.policy import skip_check
from modules.secrets import SecretReference

CANONICAL_OWNER = "099720109477"
UBUNTU_2204_AMI = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"
CHECKOUT_DIR = "/opt/homu/app"
RENDER_ENV = "/usr/local/sbin/homu-render-env"
UNIT = "homu-backend.service"  # the guide's unit name
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
UNIT_TEMPLATE = Path(__file__).with_name("ec2") / "homu-backend.service"
RENDER_TEMPLATE = Path(__file__).with_name("ec2") / "render-env.sh"
GUARD_UNIT = "homu-imds-guard.service"
GUARD_TEMPLATE = Path(__file__).with_name("ec2") / GUARD_UNIT
# A compose override the unit adds to backend/docker-compose.yml (which keeps a local driver, so
# `docker compose up` on a laptop needs no AWS): every service logs to CloudWatch Logs.
LOGGING_OVERRIDE = "/etc/homu/compose-logging.yml"
# backend/docker-compose.yml's services, one log stream each (tests/test_ec2_host.py compares them).
COMPOSE_SERVICES = ("db-init", "app", "proxy")
INSTANCE_METADATA = "169.254.169.254"
# The app's fixed address on the compose network (backend/docker-compose.yml): the one container
# whose requests to the instance metadata service are forwarded.
APP_CONTAINER_ADDRESS = "172.30.0.10"


def metadata_rule(action: str) -> list[str]:
    """The iptables command that deletes (``-D``) or inserts (``-I``) the guard's rule: every forwarded
    packet to the metadata service is dropped unless the app's container sent it."""
    return ["/usr/sbin/iptables", action, "DOCKER-USER", "!", "-s", f"{APP_CONTAINER_ADDRESS}/32",
            "-d", f"{INSTANCE_METADATA}/32", "-j", "DROP"]  # fmt: skip


@dataclass(frozen=True)
class Checkout:
    """What the host runs: a git repository, the ref to check out, the compose project's directory."""

    repository: str
    ref: str
    compose_dir: str

    @property
    def project_dir(self) -> str:
        return f"{CHECKOUT_DIR}/{self.compose_dir}".rstrip("/")


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings as YAML literal blocks, so scripts stay readable in user data."""


_LiteralDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


@dataclass(frozen=True)
class EnvFiles:
    """What the host renders before every start: the app's ``.env`` and ``db-init.env``."""

    app: dict[str, str]  # plain values
    init: dict[str, str]  # plain values for app.dbinit
    init_secrets: dict[str, SecretReference]  # read from Secrets Manager at every start


def render_env_script(region: str, files: EnvFiles) -> str:
    """The boot-time script that writes both env files: one Secrets Manager read per secret."""
    reads = []
    for name, ref in sorted(files.init_secrets.items()):
        read = f'secret "{ref.secret_arn}"'
        if ref.json_key:
            read += f" | jq -r '.{ref.json_key}'"
        reads.append(f'{name}="$({read})"')

    def entries(values: dict[str, str], secrets: dict[str, SecretReference]) -> str:
        lines = [f'  entry {name} "${name}"' for name in sorted(secrets)]
        lines += [f"  entry {name} '{value}'" for name, value in sorted(values.items())]
        return "\n".join(lines)

    return (
        RENDER_TEMPLATE.read_text()
        .replace("@REGION@", region)
        .replace("@READS@", "\n".join(reads))
        .replace("@APP_ENTRIES@", entries(files.app, {}))
        .replace("@INIT_ENTRIES@", entries(files.init, files.init_secrets))
    )


def logging_override(region: str, log_group_name: str) -> str:
    """The compose override: each service's output to a stream of its own name in the log group,
    through the Docker daemon's awslogs driver (it signs with the instance role from the host, so the
    metadata guard, which filters containers, does not concern it)."""

    def logging(service: str) -> dict[str, Any]:
        options = {
            "awslogs-region": region,
            "awslogs-group": log_group_name,
            "awslogs-stream": service,
            # Terraform owns the group (retention, key); the daemon only adds streams.
            "awslogs-create-group": "false",
            # A CloudWatch outage drops lines once the buffer is full instead of blocking the app's writes.
            "mode": "non-blocking",
            "max-buffer-size": "4m",
        }
        return {"logging": {"driver": "awslogs", "options": options}}

    # A driver other than the base file's replaces its logging block whole (json-file's options go).
    return yaml.safe_dump(
        {"services": {service: logging(service) for service in COMPOSE_SERVICES}}, sort_keys=False
    )


def cloud_config(*, checkout: Checkout, region: str, env_files: EnvFiles, log_group_name: str) -> str:
    """The instance's user data: cloud-config that installs Docker, checks out, and starts the unit."""
    unit = (
        UNIT_TEMPLATE.read_text()
        .replace("@PROJECT_DIR@", checkout.project_dir)
        .replace("@RENDER_ENV@", RENDER_ENV)
        .replace("@LOGGING_OVERRIDE@", LOGGING_OVERRIDE)
    )
    guard = (
        GUARD_TEMPLATE.read_text()
        # systemd splits ExecStart on spaces itself; no argument here has one (nor a quote).
        .replace("@RULE_DELETE@", " ".join(metadata_rule("-D")))
        .replace("@RULE_INSERT@", " ".join(metadata_rule("-I")))
    )
    config = {
        "package_update": True,
        "package_upgrade": True,
        # Ubuntu's own Docker Engine and Compose v2 plugin: no third-party apt repository or key.
        "packages": ["docker.io", "docker-compose-v2", "git", "jq", "awscli"],
        "write_files": [
            {
                "path": RENDER_ENV,
                "permissions": "0750",
                "owner": "root:root",
                "content": render_env_script(region, env_files),
            },
            {
                "path": LOGGING_OVERRIDE,
                "permissions": "0644",
                "owner": "root:root",
                "content": logging_override(region, log_group_name),
            },
            {"path": UNIT_PATH, "permissions": "0644", "owner": "root:root", "content": unit},
            {
                "path": f"/etc/systemd/system/{GUARD_UNIT}",
                "permissions": "0644",
                "owner": "root:root",
                "content": guard,
            },
        ],
        "runcmd": [
            shlex.join(command)
            for command in (
                # Before any container starts (the package's own Docker start ran no container).
                ["systemctl", "enable", "--now", GUARD_UNIT],
                ["systemctl", "enable", "--now", "docker.service"],
                ["usermod", "-aG", "docker", "ubuntu"],
                ["git", "clone", "--depth", "1", "--branch", checkout.ref, checkout.repository, CHECKOUT_DIR],
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "--now", UNIT],
            )
        ],
    }
    return "#cloud-config\n" + yaml.dump(config, Dumper=_LiteralDumper, sort_keys=False, width=1000)


@dataclass(frozen=True)
class AmiLookup:
    """The newest image whose name matches, from this owner (Canonical's Ubuntu 22.04 by default)."""

    owner: str = CANONICAL_OWNER
    name_pattern: str = UBUNTU_2204_AMI


class Ec2Host(Construct):
    """The host: Ubuntu 22.04, IMDSv2 only, Session Manager, an Elastic IP, cloud-init user data."""

    instance_id: str  # for alarms and `aws ssm start-session`
    instance_arn: str  # what the deploy role may run commands on
    public_ip: str  # the Elastic IP: the option's entry point
    role_name: str  # the instance role (Session Manager, the app's secret and runtime calls)

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        instance_type: str,
        volume_size: int,
        detailed_monitoring: bool,
        kms_key_arn: str,
        subnet_id: str,
        security_group_id: str,
        region: str,
        checkout: Checkout,
        env_files: EnvFiles,
        role_name: str,
        statements: list[dict],
        log_group_name: str,
        log_group_arn: str,
        key_name: str | None = None,
        ami: AmiLookup = AmiLookup(),
    ) -> None:
        super().__init__(scope, id_)
        image = aws.data_aws_ami.DataAwsAmi(
            self,
            "ubuntu",
            most_recent=True,
            owners=[ami.owner],
            filter=[
                aws.data_aws_ami.DataAwsAmiFilter(name="name", values=[ami.name_pattern]),
                aws.data_aws_ami.DataAwsAmiFilter(name="virtualization-type", values=["hvm"]),
                aws.data_aws_ami.DataAwsAmiFilter(name="architecture", values=["x86_64"]),
            ],
        )
        # The role exists in homu-data (modules/runtime_roles.py); the host's permissions are added here.
        # AWS's managed policy for Session Manager (its SSM channels have no resource-level scope).
        aws.iam_role_policy_attachment.IamRolePolicyAttachment(
            self,
            "session-manager",
            role=role_name,
            policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        )
        aws.iam_role_policy.IamRolePolicy(
            self,
            "app",
            name="app-secrets-and-runtime",
            role=role_name,
            policy=iam.document(*statements),
        )
        # What Docker's awslogs driver calls (https://docs.docker.com/engine/logging/drivers/awslogs/),
        # on this group's streams only.
        aws.iam_role_policy.IamRolePolicy(
            self,
            "container-logs",
            name="write-container-logs",
            role=role_name,
            policy=iam.document(
                iam.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [f"{log_group_arn}:*"],
                    sid="WriteContainerLogs",
                )
            ),
        )
        profile = aws.iam_instance_profile.IamInstanceProfile(self, "profile", name=role_name, role=role_name)

        self._instance = aws.instance.Instance(
            self,
            "instance",
            ami=image.id,
            instance_type=instance_type,
            subnet_id=subnet_id,
            vpc_security_group_ids=[security_group_id],
            iam_instance_profile=profile.name,
            key_name=key_name,
            # Needed at first boot for packages; the Elastic IP below replaces it.
            associate_public_ip_address=True,
            monitoring=detailed_monitoring,
            ebs_optimized=True,
            root_block_device=aws.instance.InstanceRootBlockDevice(
                volume_type="gp3",
                volume_size=volume_size,
                encrypted=True,
                kms_key_id=kms_key_arn,
                delete_on_termination=True,
            ),
            # IMDSv2 only. Hop limit 2 lets the app's container (one bridge hop away) use the
            # instance role, as it must to sign Redis tokens and derive SECRET_KEY; the guard unit in
            # the user data drops every other container's requests to the metadata service.
            metadata_options=aws.instance.InstanceMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=2
            ),
            user_data=cloud_config(
                checkout=checkout, region=region, env_files=env_files, log_group_name=log_group_name
            ),
            # cloud-init writes .env's script once per instance, so new values (a new SECRET_KEY
            # message, endpoints, the checkout) reach the app only on a new host.
            user_data_replace_on_change=True,
            tags={"Name": name},
            # A newer Ubuntu AMI must not replace a running host on the next apply; replace it on purpose.
            lifecycle={"ignore_changes": ["ami"]},
        )
        skip_check(
            self._instance,
            "CKV_AWS_88",
            "this host is option 2's public entry point by design; its "
            "security group admits only 80/443 (and 22 from admin_cidr when set)",
        )
        if not detailed_monitoring:
            skip_check(
                self._instance,
                "CKV_AWS_126",
                "detailed monitoring is off (ec2_detailed_monitoring) to save ~$2/month: the CPU alarm "
                "reads 5-minute metrics, the status-check alarms 1-minute ones EC2 publishes anyway",
            )
        address = aws.eip.Eip(self, "address", domain="vpc", instance=self._instance.id, tags={"Name": name})
        self.instance_id = self._instance.id
        self.instance_arn = self._instance.arn
        self.public_ip = address.public_ip
        self.role_name = role_name


class DnsName(Construct):
    """An A record for the host's address in a Route 53 zone, so the proxy can obtain a certificate."""

    def __init__(self, scope: Construct, id_: str, *, zone: str, name: str, address: str) -> None:
        super().__init__(scope, id_)
        hosted_zone = aws.data_aws_route53_zone.DataAwsRoute53Zone(
            self, "zone", name=zone, private_zone=False
        )
        aws.route53_record.Route53Record(
            self, "record", zone_id=hosted_zone.zone_id, name=name, type="A", ttl=300, records=[address]
        )
