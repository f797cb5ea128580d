"""Every hop from the app to a data-tier endpoint on one port: the data tier's group admits the app's
group (or its addresses), the app's group lets the port out, and the network ACLs of the subnets on
both ends let the connection through and its answer back (ACLs are stateless)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from tools.doctor.app import App
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.model import Check, ok, problem, unchecked

# The answer goes back to the client's ephemeral port: Linux's range, which the Fargate tasks and the
# host's Ubuntu use (AWS's ACL guide recommends allowing 1024-65535).
EPHEMERAL = (32768, 60999)


@dataclass
class Peer:
    area: str  # "database", "cache"
    name: str  # "homu-db-sg"-style label for the endpoint: "the database homu-db"
    group_ids: list[str]
    subnet_ids: list[str]


def path_checks(aws: Aws, app: App, peer: Peer, port: int) -> list[Check]:
    """Three lines: the peer's ingress, the app's egress, the network ACLs."""
    stack, area = app.stack, peer.area
    titles = (
        f"{peer.name}'s security group admits the app on {port}",
        f"the app's security group lets {port} out to {peer.name}",
        f"network ACLs pass {port} and its answers between the app and {peer.name}",
    )
    try:
        groups = _groups(aws, [*app.group_ids, *peer.group_ids])
        subnets = _subnets(aws, [*app.subnet_ids, *peer.subnet_ids])
    except CallFailed as error:
        return [unchecked(stack, area, title, str(error)) for title in titles]
    return [
        _hop(aws, app, peer, port, groups, subnets, titles[0], egress=False),
        _hop(aws, app, peer, port, groups, subnets, titles[1], egress=True),
        _acls(aws, app, peer, port, subnets, titles[2]),
    ]


def _groups(aws: Aws, group_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not group_ids:
        return {}
    # A filter, not GroupIds: a group deleted by hand is left out instead of failing the whole call.
    answer = aws.call(
        "ec2", "describe_security_groups", Filters=[{"Name": "group-id", "Values": sorted(set(group_ids))}]
    )
    return {g["GroupId"]: g for g in answer["SecurityGroups"]}


def _subnets(aws: Aws, subnet_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not subnet_ids:
        return {}
    answer = aws.call("ec2", "describe_subnets", SubnetIds=sorted(set(subnet_ids)))
    return {s["SubnetId"]: s for s in answer["Subnets"]}


def _named(groups: dict[str, dict[str, Any]], group_id: str) -> str:
    group = groups.get(group_id)
    return f"{group['GroupName']} ({group_id})" if group else f"{group_id} (deleted)"


def _opens(rule: dict[str, Any], port: int) -> bool:
    if rule.get("IpProtocol") == "-1":
        return True
    return rule.get("IpProtocol") in ("tcp", "6") and rule.get("FromPort", 0) <= port <= rule.get(
        "ToPort", -1
    )


def _covers(rule: dict[str, Any], cidrs: list[str]) -> str | None:
    """The rule's CIDR that holds every one of ``cidrs``, if any."""
    for block in rule.get("IpRanges", []):
        network = ipaddress.ip_network(block["CidrIp"], strict=False)
        if cidrs and all(ipaddress.ip_network(c, strict=False).subnet_of(network) for c in cidrs):
            return block["CidrIp"]
    return None


def _matching(group: dict[str, Any], key: str, port: int, peers: list[str], cidrs: list[str]) -> str | None:
    """How a rule of ``group`` (``IpPermissions`` or ``IpPermissionsEgress``) reaches the peer on port."""
    for rule in group.get(key, []):
        if not _opens(rule, port):
            continue
        for pair in rule.get("UserIdGroupPairs", []):
            if pair.get("GroupId") in peers:
                return pair["GroupId"]
        if cidr := _covers(rule, cidrs):
            return cidr
    return None


def _hop(aws, app: App, peer: Peer, port: int, groups, subnets, title: str, *, egress: bool) -> Check:
    """Ingress: a rule of the peer's group admits the app's group or addresses. Egress: a rule of the
    app's group lets the port out to the peer's group or subnets."""
    if not peer.group_ids or not app.group_ids:
        return unchecked(app.stack, peer.area, title, "the security groups on either end are unknown")
    peer_cidrs = [subnets[s]["CidrBlock"] for s in peer.subnet_ids if s in subnets]
    owners, others, cidrs = (
        (app.group_ids, peer.group_ids, peer_cidrs)
        if egress
        else (peer.group_ids, app.group_ids, app.source_cidrs)
    )
    key, verb = ("IpPermissionsEgress", f"lets {port} out to") if egress else ("IpPermissions", "admits")
    for group_id in owners:
        if group_id in groups and (how := _matching(groups[group_id], key, port, others, cidrs)):
            found = _named(groups, how) if how.startswith("sg-") else how
            return ok(
                app.stack,
                peer.area,
                title,
                f"{_named(groups, group_id)} {verb} {found}" + ("" if egress else f" on {port}"),
            )
    owner, other = owners[0], others[0]
    if egress:
        command = (
            f"aws ec2 authorize-security-group-egress --region {aws.region} --group-id {owner} --ip-permissions "
            f"'IpProtocol=tcp,FromPort={port},ToPort={port},UserIdGroupPairs=[{{GroupId={other}}}]'"
        )
    else:
        command = (
            f"aws ec2 authorize-security-group-ingress --region {aws.region} --group-id {owner} "
            f"--protocol tcp --port {port} --source-group {other}"
        )
    return problem(
        app.stack,
        peer.area,
        title,
        f"no {'egress' if egress else 'ingress'} rule of {', '.join(_named(groups, g) for g in owners)} "
        f"{verb.replace(str(port), 'tcp ' + str(port))} {_named(groups, other)} or {', '.join(cidrs) or 'its addresses'}"
        + ("" if egress else f" on tcp {port}"),
        [f"python -m tools.cdktf deploy {app.stack}   (puts back the rule the stack owns)", command],
    )


def _decide(entries: list[dict[str, Any]], egress: bool, cidr: str, ports: tuple[int, int]):
    """(allowed, the deciding entry or None for the final deny) for traffic to/from ``cidr`` on ``ports``:
    entries in rule-number order, the first that matches decides."""
    peer = ipaddress.ip_network(cidr, strict=False)
    low, high = ports
    for entry in sorted((e for e in entries if e["Egress"] == egress), key=lambda e: e["RuleNumber"]):
        if entry.get("Protocol") not in ("-1", "6") or "CidrBlock" not in entry:
            continue
        network = ipaddress.ip_network(entry["CidrBlock"], strict=False)
        if not network.overlaps(peer):
            continue
        every_port = True
        if entry["Protocol"] == "6":
            span = entry.get("PortRange") or {}
            if span.get("To", -1) < low or span.get("From", 65536) > high:
                continue
            every_port = span["From"] <= low and span["To"] >= high
        if entry["RuleAction"] == "deny":
            return False, entry
        if every_port and peer.subnet_of(network):
            return True, entry
    return False, None


def _acls_of(aws: Aws, subnets: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each subnet's network ACL: its own association, else its VPC's default ACL."""
    ids = sorted(subnets)
    acls = aws.call(
        "ec2", "describe_network_acls", Filters=[{"Name": "association.subnet-id", "Values": ids}]
    )
    found = {
        a["SubnetId"]: acl
        for acl in acls["NetworkAcls"]
        for a in acl.get("Associations", [])
        if a.get("SubnetId") in subnets
    }
    for vpc in sorted({subnets[s]["VpcId"] for s in ids if s not in found}):
        default = aws.call(
            "ec2",
            "describe_network_acls",
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}],
        )["NetworkAcls"]
        for subnet_id in (s for s in ids if s not in found and subnets[s]["VpcId"] == vpc and default):
            found[subnet_id] = default[0]
    return found


def _acls(aws, app: App, peer: Peer, port: int, subnets, title: str) -> Check:
    app_subnets = [s for s in app.subnet_ids if s in subnets]
    peer_subnets = [s for s in peer.subnet_ids if s in subnets]
    if not app_subnets or not peer_subnets:
        return unchecked(app.stack, peer.area, title, "the subnets on either end are unknown")
    try:
        acls = _acls_of(aws, subnets)
    except CallFailed as error:
        return unchecked(app.stack, peer.area, title, str(error))
    sources = app.source_cidrs or [subnets[s]["CidrBlock"] for s in app_subnets]
    flows = []  # (subnet, whose, egress, peer cidr, ports, what)
    for a in app_subnets:
        for d in (d for d in peer_subnets if d != a):  # within one subnet no ACL applies
            d_cidr = subnets[d]["CidrBlock"]
            a_cidrs = [
                c
                for c in sources
                if ipaddress.ip_network(c).subnet_of(ipaddress.ip_network(subnets[a]["CidrBlock"]))
            ] or [subnets[a]["CidrBlock"]]
            flows.append((a, "the app's", True, d_cidr, (port, port), f"outbound {port} to {d_cidr}"))
            flows.append(
                (
                    a,
                    "the app's",
                    False,
                    d_cidr,
                    EPHEMERAL,
                    f"inbound answers from {d_cidr} on {EPHEMERAL[0]}-{EPHEMERAL[1]}",
                )
            )
            for c in a_cidrs:
                flows.append((d, f"{peer.area}'s", False, c, (port, port), f"inbound {port} from {c}"))
                flows.append(
                    (
                        d,
                        f"{peer.area}'s",
                        True,
                        c,
                        EPHEMERAL,
                        f"outbound answers to {c} on {EPHEMERAL[0]}-{EPHEMERAL[1]}",
                    )
                )
    blocked, fixes, used = [], [], set()
    for subnet, whose, egress, cidr, ports, what in dict.fromkeys(flows):
        acl = acls.get(subnet)
        if acl is None:
            continue
        allowed, entry = _decide(acl.get("Entries", []), egress, cidr, ports)
        if allowed:
            used.add(acl["NetworkAclId"])
            continue
        acl_id, direction = acl["NetworkAclId"], "--egress" if egress else "--ingress"
        because = f"rule {entry['RuleNumber']} denies it" if entry else "no rule allows it"
        blocked.append(f"{acl_id} ({subnet}, {whose}) lets no {what} ({because})")
        if entry and entry["RuleNumber"] < 32767:
            fixes.append(
                f"aws ec2 delete-network-acl-entry --region {aws.region} --network-acl-id {acl_id} {direction} --rule-number {entry['RuleNumber']}"
            )
        else:
            taken = {e["RuleNumber"] for e in acl.get("Entries", []) if e["Egress"] == egress}
            number = next(n for n in range(1, 32767) if n not in taken)
            fixes.append(
                f"aws ec2 create-network-acl-entry --region {aws.region} --network-acl-id {acl_id} {direction} "
                f"--rule-number {number} --protocol tcp --port-range From={ports[0]},To={ports[1]} "
                f"--cidr-block {cidr} --rule-action allow"
            )
    if blocked:
        return problem(app.stack, peer.area, title, "; ".join(blocked), list(dict.fromkeys(fixes)))
    return ok(
        app.stack,
        peer.area,
        title,
        f"{', '.join(sorted(used))} allow {port} from {len(app_subnets)} app subnet(s) to "
        f"{len(peer_subnets)} {peer.area} subnet(s) and the answers back",
    )
