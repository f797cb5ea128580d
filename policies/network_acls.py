"""Network ACLs never admit SSH (22) or RDP (3389) from the internet.

AWS's default ACL allows everything; the stacks manage it with rules that skip both ports. checkov's
own NACL checks read ``aws_network_acl`` but not ``aws_default_network_acl``, which is what a VPC's
subnets fall back on.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from homu_rules import ALL_PROTOCOLS, INTERNET, _port, _value

ADMIN_PORTS = (22, 3389)
TCP = ("tcp", "6", *ALL_PROTOCOLS)


def _admits_admin_port(rule: dict[str, Any]) -> bool:
    # Inline ACL blocks say "action", an aws_network_acl_rule says "rule_action".
    if str(_value(rule.get("action", rule.get("rule_action")))).lower() != "allow":
        return False
    sources = {_value(rule.get("cidr_block")), _value(rule.get("ipv6_cidr_block"))}
    if not sources & set(INTERNET):
        return False
    protocol = str(_value(rule.get("protocol"))).lower()
    if protocol in ALL_PROTOCOLS:
        return True
    low, high = _port(rule.get("from_port")), _port(rule.get("to_port"))
    if protocol not in TCP:
        return False
    return low is None or high is None or any(low <= port <= high for port in ADMIN_PORTS)


class NoAdminPortsFromTheInternet(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Network ACLs admit nothing from the internet on SSH (22) or RDP (3389)",
            id="CKV_HOMU_11",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_default_network_acl", "aws_network_acl", "aws_network_acl_rule"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if self.entity_type == "aws_network_acl_rule":
            rules = [] if _value(conf.get("egress")) is True else [conf]
        else:
            rules = [rule for rule in conf.get("ingress") or [] if isinstance(rule, dict)]
        return CheckResult.FAILED if any(map(_admits_admin_port, rules)) else CheckResult.PASSED


check = NoAdminPortsFromTheInternet()
