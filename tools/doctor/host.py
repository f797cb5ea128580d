"""Option 2's host: the instance's state, its instance and system status checks, the SSM agent, and
``homu-backend.service`` (which only SSM Run Command can read: a write, so it is left to the user)."""

from __future__ import annotations

import json
from typing import Any

from modules.names import EC2_STACK
from tools.doctor.app import Host
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.model import Check, ok, problem, unchecked

AREA = "host"
# modules/ec2_host.py's unit; importing that module would load the provider bindings (~11 s).
UNIT = "homu-backend.service"


def host_checks(aws: Aws, host: Host) -> list[Check]:
    title = "the host is running"
    deploy = [f"python -m tools.cdktf deploy {EC2_STACK}"]
    if host.instance is None:
        if host.missing:
            return [problem(EC2_STACK, AREA, title, host.why, deploy)]
        return [unchecked(EC2_STACK, AREA, title, host.why)]
    instance = host.instance
    instance_id, state = instance["InstanceId"], instance["State"]["Name"]
    if state in ("terminated", "shutting-down"):
        return [problem(EC2_STACK, AREA, title, f"{instance_id} is {state}", deploy)]
    if state != "running":
        checks = [
            problem(
                EC2_STACK,
                AREA,
                title,
                f"{instance_id} is {state}",
                [f"aws ec2 start-instances --region {aws.region} --instance-ids {instance_id}"],
            )
        ]
    else:
        checks = [ok(EC2_STACK, AREA, title, f"{instance_id} ({instance.get('InstanceType')}) is running")]
    checks += [_status(aws, instance_id), _agent(aws, instance_id), _unit(aws, instance_id)]
    return checks


def _status(aws: Aws, instance_id: str) -> Check:
    title = "the host passes its instance and system status checks"
    try:
        statuses = aws.call(
            "ec2", "describe_instance_status", InstanceIds=[instance_id], IncludeAllInstances=True
        )["InstanceStatuses"]
    except CallFailed as error:
        return unchecked(EC2_STACK, AREA, title, str(error))
    if not statuses:
        return unchecked(EC2_STACK, AREA, title, f"{instance_id} reports no status")
    system = statuses[0].get("SystemStatus", {}).get("Status")
    own = statuses[0].get("InstanceStatus", {}).get("Status")
    seen = f"system {system}, instance {own}"
    if system == "impaired":
        # A stop and start moves the instance to other hardware (a reboot does not).
        return problem(
            EC2_STACK,
            AREA,
            title,
            f"{instance_id}: {seen}: AWS's hardware or network under it fails",
            [
                (
                    f"aws ec2 stop-instances --region {aws.region} --instance-ids {instance_id} && "
                    f"aws ec2 wait instance-stopped --region {aws.region} --instance-ids {instance_id} && "
                    f"aws ec2 start-instances --region {aws.region} --instance-ids {instance_id}"
                )
            ],
        )
    if own == "impaired":
        return problem(
            EC2_STACK,
            AREA,
            title,
            f"{instance_id}: {seen}: the operating system does not answer",
            [
                f"aws ec2 get-console-output --region {aws.region} --instance-id {instance_id} --latest --output text",
                f"aws ec2 reboot-instances --region {aws.region} --instance-ids {instance_id}",
            ],
        )
    if "initializing" in (system, own) or None in (system, own) or "not-applicable" in (system, own):
        return unchecked(EC2_STACK, AREA, title, f"{instance_id}: {seen}")
    return ok(EC2_STACK, AREA, title, f"{instance_id}: {seen}")


def _agent(aws: Aws, instance_id: str) -> Check:
    title = "the host's SSM agent is online (deploys and shell access go through it)"
    try:
        found = aws.call(
            "ssm", "describe_instance_information", Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
        )["InstanceInformationList"]
    except CallFailed as error:
        return unchecked(EC2_STACK, AREA, title, str(error))
    if not found:
        return problem(
            EC2_STACK,
            AREA,
            title,
            f"{instance_id} is not registered with SSM: the agent did not start, the instance role "
            "lacks AmazonSSMManagedInstanceCore, or the host has no route to ssm on 443",
            [
                f"aws ec2 get-console-output --region {aws.region} --instance-id {instance_id} --latest --output text",
                f"python -m tools.cdktf deploy {EC2_STACK}   (puts back the instance profile and the 443 egress)",
            ],
        )
    info = found[0]
    if info.get("PingStatus") != "Online":
        return problem(
            EC2_STACK,
            AREA,
            title,
            f"{instance_id}: agent {info.get('PingStatus')} since {info.get('LastPingDateTime')}",
            [f"aws ec2 reboot-instances --region {aws.region} --instance-ids {instance_id}"],
        )
    return ok(EC2_STACK, AREA, title, f"{instance_id}: Online, agent {info.get('AgentVersion', '?')}")


def _unit(aws: Aws, instance_id: str) -> Check:
    """Could not check: reading the unit's state means running a command on the host (a write)."""
    title = f"{UNIT} is active on the host"
    commands = json.dumps(
        {"commands": [f"systemctl is-active {UNIT}", f"systemctl status {UNIT} --no-pager -n 20"]}
    )
    run = (
        f"aws ssm send-command --region {aws.region} --instance-ids {instance_id} --document-name "
        f"AWS-RunShellScript --parameters '{commands}' --query Command.CommandId --output text, then "
        f"aws ssm get-command-invocation --region {aws.region} --instance-id {instance_id} --command-id <ID>"
    )
    last = _last_command(aws, instance_id)
    return unchecked(
        EC2_STACK,
        AREA,
        title,
        "reading a unit's state takes ssm:SendCommand, which is not read-only; run:",
        [run, *([last] if last else [])],
    )


def _last_command(aws: Aws, instance_id: str) -> str:
    try:
        found = aws.call("ssm", "list_command_invocations", InstanceId=instance_id, MaxResults=1)[
            "CommandInvocations"
        ]
    except CallFailed:
        return ""
    if not found:
        return ""
    last: dict[str, Any] = found[0]
    return f"the last command run there ({last.get('DocumentName')}, {last.get('RequestedDateTime')}) ended {last.get('Status')}"
