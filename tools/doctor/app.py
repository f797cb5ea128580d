"""The app as the account runs it: its security groups, its subnets and the URLs it was handed, for the
Fargate service (its network configuration and task definition) or the EC2 host (its instance and
user data). The database and cache checks follow the path from here."""

from __future__ import annotations

import base64
import gzip
import re
from dataclasses import dataclass, field
from typing import Any

from modules.names import EC2_STACK
from modules.settings import Settings
from tools.doctor.aws import Aws, CallFailed

URL_VARIABLES = ("DATABASE_URL", "REDIS_URL")
# How the host's render script writes a plain .env value (modules/ec2_host.py): entry NAME 'VALUE'.
_ENTRY = re.compile(r"^\s*entry (\w+) '([^']*)'$", re.MULTILINE)


@dataclass
class App:
    stack: str
    label: str  # "the Fargate tasks", "the EC2 host i-0abc"
    group_ids: list[str]
    subnet_ids: list[str]
    # Where the app's connections come from: the tasks' subnets, or the host's private address.
    source_cidrs: list[str]
    # What the app is handed, by where it is written: {"task definition homu-backend-task:3, homu-backend": {...}}
    given: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Fargate:
    service: dict[str, Any] | None
    task_definition: dict[str, Any] | None
    app: App | None
    why: str = ""  # why there is no app: the service or its task definition could not be read
    missing: bool = False  # the service (or its cluster) does not exist: a problem, not a failed call


@dataclass
class Host:
    instance: dict[str, Any] | None
    app: App | None
    why: str = ""
    missing: bool = False  # the instance does not exist


def subnet_cidrs(aws: Aws, subnet_ids: list[str]) -> dict[str, str]:
    if not subnet_ids:
        return {}
    subnets = aws.call("ec2", "describe_subnets", SubnetIds=sorted(set(subnet_ids)))["Subnets"]
    return {s["SubnetId"]: s["CidrBlock"] for s in subnets}


def fargate(aws: Aws, settings: Settings, outputs: dict[str, Any], stack: str) -> Fargate:
    cluster = outputs.get("cluster_name", settings.cluster_name)
    name = outputs.get("service_name", settings.service_name)
    try:
        services = aws.call("ecs", "describe_services", cluster=cluster, services=[name])["services"]
    except CallFailed as error:
        if error.missing:
            return Fargate(None, None, None, f"the cluster {cluster} does not exist", missing=True)
        return Fargate(None, None, None, str(error))
    service = next((s for s in services if s.get("status") == "ACTIVE"), None)
    if service is None:
        return Fargate(None, None, None, f"the service {name} does not exist in {cluster}", missing=True)
    try:
        definition = aws.call("ecs", "describe_task_definition", taskDefinition=service["taskDefinition"])[
            "taskDefinition"
        ]
    except CallFailed as error:
        definition, why = None, str(error)
    network = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    subnets = network.get("subnets", [])
    try:
        cidrs = sorted(set(subnet_cidrs(aws, subnets).values()))
    except CallFailed as error:
        return Fargate(service, definition, None, str(error))
    app = App(stack, "the Fargate tasks", network.get("securityGroups", []), subnets, cidrs)
    if definition is None:
        return Fargate(service, None, app, why)
    revision = f"{definition['family']}:{definition['revision']}"
    for container in definition.get("containerDefinitions", []):
        values = {
            e["name"]: e["value"] for e in container.get("environment", []) if e["name"] in URL_VARIABLES
        }
        if values:
            app.given[f"task definition {revision}, container {container['name']}"] = values
    return Fargate(service, definition, app)


def host(aws: Aws, outputs: dict[str, Any]) -> Host:
    instance_id = outputs.get("instance_id")
    if not instance_id:
        return Host(None, None, "homu-ec2's state has no instance_id output")
    try:
        reservations = aws.call("ec2", "describe_instances", InstanceIds=[instance_id])["Reservations"]
    except CallFailed as error:
        if error.missing:
            return Host(None, None, f"the instance {instance_id} does not exist", missing=True)
        return Host(None, None, str(error))
    instances = [i for r in reservations for i in r["Instances"]]
    if not instances:
        return Host(None, None, f"the instance {instance_id} does not exist", missing=True)
    if instances[0]["State"]["Name"] in ("terminated", "shutting-down"):
        return Host(instances[0], None, f"the instance {instance_id} is terminated")
    instance = instances[0]
    address = instance.get("PrivateIpAddress")
    app = App(
        EC2_STACK,
        f"the EC2 host {instance_id}",
        [g["GroupId"] for g in instance.get("SecurityGroups", [])],
        [instance["SubnetId"]] if instance.get("SubnetId") else [],
        [f"{address}/32"] if address else [],
    )
    try:
        data = aws.call("ec2", "describe_instance_attribute", InstanceId=instance_id, Attribute="userData")
    except CallFailed:
        return Host(instance, app)  # the endpoint check says what it could not compare
    for part, values in user_data_values(data.get("UserData", {}).get("Value", "")).items():
        app.given[f"the host's user data ({instance_id}), {part}"] = values
    return Host(instance, app)


def user_data_values(encoded: str) -> dict[str, dict[str, str]]:
    """The URL variables the host's render script writes, by file (``.env``, ``db-init.env``), from its
    base64 user data."""
    if not encoded:
        return {}
    raw = base64.b64decode(encoded)
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode(errors="replace")
    # The script's app_entries() writes .env, init_entries() db-init.env (modules/ec2/render-env.sh).
    app_part, _, init_part = text.partition("init_entries() {")
    found = {}
    for part, chunk in ((".env", app_part), ("db-init.env", init_part)):
        values = {name: value for name, value in _ENTRY.findall(chunk) if name in URL_VARIABLES}
        if values:
            found[part] = values
    return found
