"""SSM Run Command: the EC2 deploy path (docs/ci-cd.md: ``aws ssm send-command --targets Key=InstanceIds,...``)."""

from __future__ import annotations

from typing import Any


def patch_run_command() -> None:
    """SendCommand takes its instances from ``Targets`` the way AWS does, and ListCommandInvocations exists.

    moto 5.2.5 turns each target into an EC2 filter of the same name, so ``Key=InstanceIds`` (the
    deploy command of docs/ci-cd.md) is an unknown filter and SendCommand fails with a 500; and it has no
    ListCommandInvocations, which the EC2 deploy role may call to read a command's result (a 500 too).
    """
    from moto.ec2 import ec2_backends
    from moto.ssm.models import Command
    from moto.ssm.responses import SimpleSystemManagerResponse

    def instance_ids_from_targets(self: Any) -> list[str]:
        # Key=InstanceIds names the instances; tag:<key> keys are EC2's own tag filters.
        filters = {
            ("instance-id" if t["Key"] == "InstanceIds" else t["Key"]): t["Values"] for t in self.targets
        }
        reservations = ec2_backends[self.account_id][self.backend_region].all_reservations(filters=filters)
        return [instance.id for reservation in reservations for instance in reservation.instances]

    def list_command_invocations(self: Any) -> Any:
        from moto.core.responses import ActionResult

        instance_id = self._get_param("InstanceId")
        details = self._get_bool_param("Details", False)
        invocations = [
            _invocation(command, invocation, details)
            for command in self.ssm_backend.list_commands(self._get_param("CommandId"), instance_id)
            for invocation in command.invocations
            if instance_id in (None, invocation["InstanceId"])
        ]
        return ActionResult({"CommandInvocations": invocations})

    Command._get_instance_ids_from_targets = instance_ids_from_targets
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations


def _invocation(command: Any, invocation: dict[str, Any], details: bool) -> dict[str, Any]:
    """One CommandInvocation as ListCommandInvocations reports it; its plugin's output with ``Details``."""
    plugin = {
        "Name": invocation["PluginName"],
        "Status": invocation["Status"],
        "StatusDetails": invocation["StatusDetails"],
        "ResponseCode": invocation["ResponseCode"],
        "Output": invocation["StandardOutputContent"],
    }
    return {
        "CommandId": command.command_id,
        "InstanceId": invocation["InstanceId"],
        "Comment": command.comment,
        "DocumentName": command.document_name,
        "RequestedDateTime": command.requested_date_time,
        "Status": invocation["Status"],
        "StatusDetails": invocation["StatusDetails"],
        "CommandPlugins": [plugin] if details else [],
    }
