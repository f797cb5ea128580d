"""The guide's security-group graph as policies, for every form a rule can take."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from homu_rules import SG_RESOURCES, ingress_rules

# The backend's port from backend/contract.json (kept literal: policies also scan foreign output).
APP_PORT = 8000


class _IngressCheck(BaseResourceCheck):
    def __init__(self, *, id: str, name: str) -> None:
        super().__init__(
            name=name, id=id, categories=[CheckCategories.NETWORKING], supported_resources=SG_RESOURCES
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        rules = ingress_rules(self.entity_type, conf)
        return CheckResult.FAILED if any(self.violates(rule) for rule in rules) else CheckResult.PASSED

    def violates(self, rule) -> bool:
        raise NotImplementedError


class OnlyFromGroups(_IngressCheck):
    """A port that must be reachable only from another security group, never from an address range."""

    def __init__(self, *, id: str, port: int, service: str) -> None:
        super().__init__(
            id=id, name=f"{service} port {port} is reachable only from a referenced security group"
        )
        self.port = port

    def violates(self, rule) -> bool:
        return rule.covers(self.port) and rule.from_addresses


class InternetOnlyToWebPorts(_IngressCheck):
    def __init__(self) -> None:
        super().__init__(
            id="CKV_HOMU_4", name="Internet ingress (0.0.0.0/0, ::/0) is limited to TCP 80 and 443"
        )

    def violates(self, rule) -> bool:
        if not rule.from_internet:
            return False
        web_port = (
            rule.protocol in ("tcp", "6") and rule.from_port == rule.to_port and rule.from_port in (80, 443)
        )
        return not web_port


class NoSshFromInternet(_IngressCheck):
    def __init__(self) -> None:
        super().__init__(id="CKV_HOMU_5", name="SSH (22) is never reachable from the internet")

    def violates(self, rule) -> bool:
        return rule.covers(22) and rule.from_internet


class RulesAreDescribed(_IngressCheck):
    def __init__(self) -> None:
        super().__init__(id="CKV_HOMU_6", name="Every security-group ingress rule has a description")

    def violates(self, rule) -> bool:
        return not (rule.description or "").strip()


postgres = OnlyFromGroups(id="CKV_HOMU_1", port=5432, service="PostgreSQL")
redis = OnlyFromGroups(id="CKV_HOMU_2", port=6379, service="Redis")
application = OnlyFromGroups(id="CKV_HOMU_3", port=APP_PORT, service="The application")
internet = InternetOnlyToWebPorts()
ssh = NoSshFromInternet()
described = RulesAreDescribed()
