"""EC2: registered images, security-group rule descriptions, instance groups, detailed monitoring and
network ACL entries."""

from __future__ import annotations

import re
from typing import Any


def patch_register_image() -> None:
    """RegisterImage keeps its Architecture and VirtualizationType (moto drops them, so no filter matches)."""
    from moto.ec2.responses.amis import AmisResponse

    original = AmisResponse.register_image

    def register_image(self):
        result = original(self)
        image = self.ec2_backend.amis[result.result["ImageId"]]
        image.architecture = self._get_param("Architecture") or image.architecture
        image.virtualization_type = self._get_param("VirtualizationType") or image.virtualization_type
        image.root_device_name = self._get_param("RootDeviceName") or image.root_device_name
        return result

    AmisResponse.register_image = register_image


def patch_rule_descriptions() -> None:
    """A rule that references another security group keeps its description (moto keeps it only for
    CIDR rules, so every group-to-group rule read back without one)."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    SecurityGroupRule.description = property(
        lambda self: self.ip_range.get("Description") or (self.source_group or {}).get("Description")
    )


def patch_monitor_instances() -> None:
    """MonitorInstances/UnmonitorInstances switch detailed monitoring (moto raises NotImplementedError;
    the provider calls it for ``monitoring = true``)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.monitoring import Monitoring

    def switch(state: str):
        def handler(self):
            self.error_on_dryrun()
            monitorings = []
            for instance_id in self._get_param("InstanceIds", []):
                self.ec2_backend.get_instance(instance_id).monitoring_state = state
                monitorings.append({"InstanceId": instance_id, "Monitoring": {"State": state}})
            return ActionResult({"InstanceMonitorings": monitorings})

        return handler

    Monitoring.monitor_instances = switch("enabled")
    Monitoring.unmonitor_instances = switch("disabled")


def patch_instance_security_groups() -> None:
    """An instance launched with its groups on the primary network interface reports them as its own.

    The provider passes the groups inside ``NetworkInterfaces`` when it asks for a public address
    (``associate_public_ip_address``); AWS then lists them under the instance's ``SecurityGroups``,
    moto only under the interface, so ``vpc_security_group_ids`` read back empty on every plan.
    """
    from moto.ec2.models.instances import InstanceBackend

    original = InstanceBackend.run_instances

    def run_instances(self, *args: Any, **kwargs: Any):
        reservation = original(self, *args, **kwargs)
        for instance in reservation.instances:
            primary = instance.nics.get(0)
            if not instance.security_groups and primary is not None:
                instance.security_groups = list(primary._group_set)
        return reservation

    InstanceBackend.run_instances = run_instances


def patch_network_acl_icmp() -> None:
    """An ICMP entry of a network ACL keeps its type and code (moto 5.2 reads them as ``Icmp.Code``,
    a name its request parser no longer yields, so the rule read back as type 0 code 0 and every
    re-plan wanted to restore it)."""
    from moto.ec2.responses.network_acls import NetworkACLs

    def keep_icmp(original):
        def handler(self):
            result = original(self)
            code, type_ = self.querystring.get("Icmp.Code"), self.querystring.get("Icmp.Type")
            if code or type_:
                acl = self.ec2_backend.get_network_acl(self._get_param("NetworkAclId"))
                number, egress = str(self._get_param("RuleNumber")), str(self._get_param("Egress")).lower()
                for entry in acl.network_acl_entries:
                    if str(entry.rule_number) == number and str(entry.egress).lower() == egress:
                        entry.icmp_code = int(code[0]) if code else None
                        entry.icmp_type = int(type_[0]) if type_ else None
            return result

        return handler

    NetworkACLs.create_network_acl_entry = keep_icmp(NetworkACLs.create_network_acl_entry)
    NetworkACLs.replace_network_acl_entry = keep_icmp(NetworkACLs.replace_network_acl_entry)


def _attempt(headers: Any) -> int:
    """Which attempt of one SDK call a request is (``amz-sdk-request: attempt=N; max=M``)."""
    for name, value in dict(headers).items():
        if name.lower() == "amz-sdk-request":
            match = re.search(r"attempt=(\d+)", value)
            return int(match[1]) if match else 1
    return 1


def patch_retried_rule_authorizations() -> None:
    """A retried AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroupIngress/Egress or
    CreateNetworkAclEntry answers as its first attempt did.

    On a busy machine the SDK can give up on an answer that moto already acted on and send the call
    again; moto then refuses it as a duplicate and the apply fails although AWS would have answered
    the first attempt. A retry (attempt 2 or later) therefore replaces the rules its lost first
    attempt added, whose ids nobody received, and answers with the new ones; a retried revoke whose
    first attempt already removed the rules (the provider revokes every new group's default egress
    rule) answers that it did.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import (
        InvalidPermissionDuplicateError,
        InvalidPermissionNotFoundError,
        NetworkAclEntryAlreadyExistsError,
    )
    from moto.ec2.responses.network_acls import NetworkACLs
    from moto.ec2.responses.security_groups import SecurityGroups

    def answer_retries(original, duplicate: type[Exception], redo):
        def handler(self):
            try:
                return original(self)
            except duplicate:
                if _attempt(self.headers) < 2:
                    raise
                return redo(self)

        return handler

    def authorize_again(original, revoke: str):
        def redo(self):
            for rule in self._process_rules_from_querystring():
                getattr(self.ec2_backend, revoke)(**{k: v for k, v in rule.items() if k != "sgrule_tags"})
            return original(self)

        return redo

    for direction in ("ingress", "egress"):
        original = getattr(SecurityGroups, f"authorize_security_group_{direction}")
        redo = authorize_again(original, f"revoke_security_group_{direction}")
        setattr(
            SecurityGroups,
            f"authorize_security_group_{direction}",
            answer_retries(original, InvalidPermissionDuplicateError, redo),
        )
        revoke = f"revoke_security_group_{direction}"
        setattr(
            SecurityGroups,
            revoke,
            answer_retries(
                getattr(SecurityGroups, revoke),
                InvalidPermissionNotFoundError,
                lambda self: ActionResult({"Return": True}),
            ),
        )
    # A retried CreateNetworkAclEntry replaces the entry its lost first attempt created.
    NetworkACLs.create_network_acl_entry = answer_retries(
        NetworkACLs.create_network_acl_entry,
        NetworkAclEntryAlreadyExistsError,
        NetworkACLs.replace_network_acl_entry,
    )
