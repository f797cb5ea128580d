"""SSM managed instances: the agent every running host with an instance profile would register."""

from __future__ import annotations

from typing import Any


def patch_instance_information() -> None:
    """DescribeInstanceInformation lists each running EC2 instance that has an instance profile as an
    online managed instance, as AWS does once the host's SSM agent registers with its role.

    moto 5.2.5 has no DescribeInstanceInformation (a 500); the emulator runs no agent, so this answers
    as a healthy host's agent would (the doctor asks it, read-only, whether deploys can reach the host).
    Filters: ``InstanceIds`` (and the ``InstanceInformationFilterList`` form ``InstanceIds``).
    """
    from moto.core.responses import ActionResult
    from moto.ec2 import ec2_backends
    from moto.ssm.responses import SimpleSystemManagerResponse

    def describe_instance_information(self: Any) -> Any:
        wanted: set[str] = set()
        for given in (self._get_param("Filters") or []) + (
            self._get_param("InstanceInformationFilterList") or []
        ):
            if given.get("Key") in ("InstanceIds", "InstanceId"):
                wanted.update(given.get("Values") or given.get("valueSet") or [])
        backend = ec2_backends[self.current_account][self.region]
        instances = [i for r in backend.all_reservations() for i in r.instances]
        found = [
            {
                "InstanceId": instance.id,
                "PingStatus": "Online",
                "LastPingDateTime": instance.launch_time,
                "AgentVersion": "3.3.0.0",
                "IsLatestVersion": True,
                "PlatformType": "Linux",
                "ResourceType": "EC2Instance",
                "IPAddress": instance.private_ip,
            }
            for instance in instances
            if instance.state == "running"
            and instance.iam_instance_profile
            and (not wanted or instance.id in wanted)
        ]
        return ActionResult({"InstanceInformationList": found})

    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information
