"""Sets a resource reads back whole while the stacks manage their members as resources of their own:
a security group's rules, a role's policies, a route table's routes.

The refresh puts every member into the parent's attribute (``ingress``, ``managed_policy_arns``,
``route``), also those that rule, attachment and route resources manage, in this stack or another
(the computes add the rules that admit them to the data tier's groups). What the account has beyond
the members any stack manages was added outside Terraform, and a deploy does not remove it:
Terraform changes only what it manages. Those are the additions to report, with the command that
removes each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Item = tuple[Any, ...]
Resources = list[tuple[str, dict[str, Any]]]  # (type, values) of every managed resource known
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}
ROUTE_TARGETS = (
    "gateway_id", "nat_gateway_id", "network_interface_id", "transit_gateway_id", "vpc_endpoint_id",
    "vpc_peering_connection_id", "egress_only_gateway_id", "carrier_gateway_id", "local_gateway_id",
    "core_network_arn",
)  # fmt: skip
ROUTE_DESTINATIONS = {
    "cidr_block": "destination_cidr_block",
    "ipv6_cidr_block": "destination_ipv6_cidr_block",
    "destination_prefix_list_id": "destination_prefix_list_id",
}


@dataclass(frozen=True)
class Family:
    """One such set: its members as the parent reads them back and as member resources hold them."""

    members: Callable[[str, dict[str, Any]], set[Item]]  # (attribute, parent values) -> members
    managed: Callable[[str, dict[str, Any], Resources], set[Item]]  # members some stack manages
    describe: Callable[[Item], str]  # a noun phrase: "an ingress rule 5432/tcp from 10.0.0.0/16"
    remove: Callable[[dict[str, Any], Item], str]  # the CLI command that removes it


# --- security groups ------------------------------------------------------------------------------


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[str, Any, Any]:
    protocol = PROTOCOLS.get(str(protocol), str(protocol))
    return (protocol, None, None) if protocol == "-1" else (protocol, from_port, to_port)


def _group_members(direction: str, group: dict[str, Any]) -> set[Item]:
    """The inline blocks as one rule per peer, as AWS keeps them."""
    rules = set()
    for block in group.get(direction) or []:
        ports = _ports(block.get("protocol", "-1"), block.get("from_port"), block.get("to_port"))
        peers = [
            ("cidr", c) for c in (block.get("cidr_blocks") or []) + (block.get("ipv6_cidr_blocks") or [])
        ]
        peers += [("group", g) for g in block.get("security_groups") or []]
        peers += [("prefix list", p) for p in block.get("prefix_list_ids") or []]
        peers += [("group", group.get("id"))] if block.get("self") else []
        rules |= {(direction, *ports, *peer) for peer in peers}
    return rules


RULE_TYPES = {
    "aws_vpc_security_group_ingress_rule": "ingress",
    "aws_vpc_security_group_egress_rule": "egress",
}
RULE_PEERS = (
    ("cidr", "cidr_ipv4"), ("cidr", "cidr_ipv6"), ("group", "referenced_security_group_id"),
    ("prefix list", "prefix_list_id"),
)  # fmt: skip


def _group_managed(direction: str, group: dict[str, Any], resources: Resources) -> set[Item]:
    rules = set()
    for type_, values in resources:
        if RULE_TYPES.get(type_) != direction or values.get("security_group_id") != group.get("id"):
            continue
        ports = _ports(values.get("ip_protocol", "-1"), values.get("from_port"), values.get("to_port"))
        rules |= {(direction, *ports, kind, values[key]) for kind, key in RULE_PEERS if values.get(key)}
    return rules


def _describe_rule(rule: Item) -> str:
    direction, protocol, from_port, to_port, kind, peer = rule
    if protocol == "-1":
        what = "all traffic"
    else:
        what = f"{from_port}/{protocol}" if from_port == to_port else f"{from_port}-{to_port}/{protocol}"
    side = "from" if direction == "ingress" else "to"
    return f"an {direction} rule {what} {side} {'prefix list ' if kind == 'prefix list' else ''}{peer}"


def _revoke(group: dict[str, Any], rule: Item) -> str:
    direction, protocol, from_port, to_port, kind, peer = rule
    permission = f"IpProtocol={protocol}" + (
        f",FromPort={from_port},ToPort={to_port}" if protocol != "-1" else ""
    )
    peer_field = {
        "cidr": f"Ipv6Ranges=[{{CidrIpv6={peer}}}]" if ":" in str(peer) else f"IpRanges=[{{CidrIp={peer}}}]",
        "group": f"UserIdGroupPairs=[{{GroupId={peer}}}]",
        "prefix list": f"PrefixListIds=[{{PrefixListId={peer}}}]",
    }[kind]
    return (
        f"aws ec2 revoke-security-group-{direction} --group-id {group.get('id')} "
        f"--ip-permissions '{permission},{peer_field}'"
    )


# --- IAM roles ------------------------------------------------------------------------------------


def _role_members(attribute: str, role: dict[str, Any]) -> set[Item]:
    if attribute == "managed_policy_arns":
        return {("managed", arn) for arn in role.get("managed_policy_arns") or []}
    return {
        ("inline", policy.get("name")) for policy in role.get("inline_policy") or [] if policy.get("name")
    }


def _role_managed(attribute: str, role: dict[str, Any], resources: Resources) -> set[Item]:
    name = role.get("name")
    if attribute == "managed_policy_arns":
        return {
            ("managed", v.get("policy_arn"))
            for t, v in resources
            if t == "aws_iam_role_policy_attachment" and v.get("role") == name
        }
    return {
        ("inline", v.get("name"))
        for t, v in resources
        if t == "aws_iam_role_policy" and v.get("role") == name
    }


def _describe_policy(item: Item) -> str:
    kind, name = item
    return (
        f"an attachment of the managed policy {name}"
        if kind == "managed"
        else f"an inline policy named {name}"
    )


def _remove_policy(role: dict[str, Any], item: Item) -> str:
    kind, name = item
    if kind == "managed":
        return f"aws iam detach-role-policy --role-name {role.get('name')} --policy-arn {name}"
    return f"aws iam delete-role-policy --role-name {role.get('name')} --policy-name {name}"


# --- route tables ---------------------------------------------------------------------------------


def _route(destination: Any, values: dict[str, Any]) -> Item:
    return ("route", destination, next((values[t] for t in ROUTE_TARGETS if values.get(t)), "local"))


def _table_members(attribute: str, table: dict[str, Any]) -> set[Item]:
    return {
        _route(next(route[k] for k in ROUTE_DESTINATIONS if route.get(k)), route)
        for route in table.get("route") or []
        if any(route.get(k) for k in ROUTE_DESTINATIONS)
    }


def _table_managed(attribute: str, table: dict[str, Any], resources: Resources) -> set[Item]:
    return {
        _route(next(v[k] for k in ROUTE_DESTINATIONS.values() if v.get(k)), v)
        for t, v in resources
        if t == "aws_route" and v.get("route_table_id") == table.get("id")
        and any(v.get(k) for k in ROUTE_DESTINATIONS.values())
    }  # fmt: skip


def _describe_route(item: Item) -> str:
    return f"a route to {item[1]} via {item[2]}"


def _delete_route(table: dict[str, Any], item: Item) -> str:
    flag = "--destination-ipv6-cidr-block" if ":" in str(item[1]) else "--destination-cidr-block"
    if str(item[1]).startswith("pl-"):
        flag = "--destination-prefix-list-id"
    return f"aws ec2 delete-route --route-table-id {table.get('id')} {flag} {item[1]}"


SECURITY_GROUP = Family(_group_members, _group_managed, _describe_rule, _revoke)
ROLE = Family(_role_members, _role_managed, _describe_policy, _remove_policy)
ROUTE_TABLE = Family(_table_members, _table_managed, _describe_route, _delete_route)
FAMILIES: dict[tuple[str, str], Family] = {
    ("aws_security_group", "ingress"): SECURITY_GROUP,
    ("aws_security_group", "egress"): SECURITY_GROUP,
    ("aws_iam_role", "managed_policy_arns"): ROLE,
    ("aws_iam_role", "inline_policy"): ROLE,
    ("aws_route_table", "route"): ROUTE_TABLE,
}


def unmanaged_changes(
    family: Family, attribute: str, before: dict[str, Any], after: dict[str, Any], resources: Resources
) -> tuple[list[Item], list[Item]]:
    """(added, removed) members no stack manages, between the last apply and now."""
    managed = family.managed(attribute, after or before, resources)
    old = family.members(attribute, before) - managed
    new = family.members(attribute, after) - managed
    return sorted(new - old, key=str), sorted(old - new, key=str)
