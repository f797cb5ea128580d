"""Shared reading of Terraform security-group rules in every form checkov hands to a check.

Forms: inline ``ingress``/``egress`` blocks of ``aws_security_group`` (cdktf writes ``null`` for
every unset field), ``aws_security_group_rule``, and ``aws_vpc_security_group_ingress_rule``.
checkov wraps each attribute in a one-element list; ``_value`` unwraps it. This file holds no
check itself; checkov imports it from the policies directory on ``sys.path``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

INTERNET = ("0.0.0.0/0", "::/0")
ALL_PROTOCOLS = ("-1", "all")
SG_RESOURCES = ["aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"]


def _value(raw: Any) -> Any:
    while isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    return raw


def _json(raw: Any) -> Any | None:
    """A JSON document attribute: a string in Terraform JSON, already parsed in a plan."""
    value = _value(raw)
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def _values(raw: Any) -> list[Any]:
    value = _value(raw)
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v not in (None, "")]


def _port(raw: Any) -> int | None:
    try:
        return int(_value(raw))
    except (TypeError, ValueError):
        return None  # an unresolved reference: treated as "any port" below


@dataclass(frozen=True)
class Rule:
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: tuple[str, ...]
    peer_groups: tuple[str, ...]
    description: str | None

    def covers(self, port: int) -> bool:
        if self.protocol in ALL_PROTOCOLS:
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        if self.from_port is None or self.to_port is None:
            return True
        if self.from_port == -1 or self.to_port == -1:
            return True
        return self.from_port <= port <= self.to_port

    @property
    def from_internet(self) -> bool:
        return any(cidr in INTERNET for cidr in self.cidrs)

    @property
    def from_addresses(self) -> bool:
        """Open to an address range (any CIDR or prefix list) rather than to a security group."""
        return bool(self.cidrs)


def _rule(
    conf: dict[str, Any], *, protocol_key: str, cidr_keys: tuple[str, ...], group_keys: tuple[str, ...]
) -> Rule:
    protocol = str(_value(conf.get(protocol_key)) or "").lower()
    cidrs = tuple(str(c) for key in cidr_keys for c in _values(conf.get(key)))
    groups = tuple(str(g) for key in group_keys for g in _values(conf.get(key)))
    if _value(conf.get("self")) is True:
        groups += ("self",)
    return Rule(
        protocol=protocol,
        from_port=_port(conf.get("from_port")),
        to_port=_port(conf.get("to_port")),
        cidrs=cidrs,
        peer_groups=groups,
        description=_value(conf.get("description")),
    )


def ingress_rules(resource_type: str, conf: dict[str, Any]) -> list[Rule]:
    """Every ingress rule a resource defines, normalized."""
    if resource_type == "aws_security_group":
        blocks = conf.get("ingress") or []
        blocks = [b for b in (blocks if isinstance(blocks, list) else [blocks]) if isinstance(b, dict)]
        return [
            _rule(
                b,
                protocol_key="protocol",
                cidr_keys=("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"),
                group_keys=("security_groups",),
            )
            for b in blocks
        ]
    if resource_type == "aws_security_group_rule":
        if _value(conf.get("type")) != "ingress":
            return []
        return [
            _rule(
                conf,
                protocol_key="protocol",
                cidr_keys=("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"),
                group_keys=("source_security_group_id",),
            )
        ]
    if resource_type == "aws_vpc_security_group_ingress_rule":
        return [
            _rule(
                conf,
                protocol_key="ip_protocol",
                cidr_keys=("cidr_ipv4", "cidr_ipv6", "prefix_list_id"),
                group_keys=("referenced_security_group_id",),
            )
        ]
    return []
