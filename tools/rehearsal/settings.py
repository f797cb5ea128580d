"""What the rehearsal adds to a configuration: its own settings, what the account holds before the first
deploy, and the project's own synthesis of the result."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modules.names import STACKS
from modules.settings import Settings, validate
from tools.rehearsal.emulator import Emulator

PRODUCTION_FILE = Path(__file__).resolve().parents[2] / "environments" / "prod.json"
CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {
    "default": dict,
    "production": lambda: json.loads(PRODUCTION_FILE.read_text()),
}

# What the rehearsal sets on top of the configuration it rehearses, besides endpoint_url (the emulator).
REHEARSAL_SETTINGS: dict[str, Any] = {
    # The emulator has no Canonical images. The rehearsal registers an image under the production name
    # pattern in the emulator's own account, so only the owner of the lookup changes.
    "ami_owner": "self",
}
REHEARSAL_AMI_NAME = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20260101-rehearsal"


def rehearsal_settings(config: str, endpoint_url: str | None = None, **extra: Any) -> Settings:
    """The configuration's settings plus ``REHEARSAL_SETTINGS`` and the emulator's URL."""
    endpoint = {"endpoint_url": endpoint_url} if endpoint_url else {}
    return validate({**CONFIGS[config](), **REHEARSAL_SETTINGS, **endpoint, **extra})


def prepare_account(emulator: Emulator, settings: Settings) -> list[str]:
    """What an account holds before the first deploy: the public hosted zone (when the configuration
    names one; the stacks look it up) and an Ubuntu 22.04 image for the EC2 host's AMI lookup."""
    notes = []
    if settings.hosted_zone:
        emulator.client("route53").create_hosted_zone(
            Name=settings.hosted_zone, CallerReference=f"rehearsal-{time.time_ns()}"
        )
        notes.append(f"hosted zone {settings.hosted_zone}")
    image = emulator.client("ec2").register_image(
        Name=REHEARSAL_AMI_NAME,
        Architecture="x86_64",
        VirtualizationType="hvm",
        RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}],
    )
    notes.append(f"image {image['ImageId']} {REHEARSAL_AMI_NAME}")
    notes.append(f"default VPC {_default_vpc_route(emulator.client('ec2'))} with its internet gateway")
    return notes


def _default_vpc_route(ec2: Any) -> str:
    """The default VPC as AWS makes it: moto's has no internet gateway and no 0.0.0.0/0 route, so its
    default subnets would not be public (the guide puts everything in them)."""
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    return vpc_id


def synthesize(settings: Settings, outdir: Path) -> dict[str, Path]:
    """The project's own synthesis (``modules.app.build_app``); returns each stack's directory."""
    from modules.app import build_app  # loads the AWS provider bindings: only when synthesizing

    build_app(settings, outdir).synth()
    return {name: outdir / "stacks" / name for name in STACKS}
