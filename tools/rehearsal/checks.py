"""The checks of an applied stack against the emulator.

Each compares what the emulator holds with the synthesized configuration the stack was applied from
(read through ``tools.tfjson``), never with a restated design: the unit tests of the constructs hold
the design, the rehearsal shows that AWS's API ends up holding exactly that. Each check returns a
one-line summary or raises ``CheckFailed``.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from tools.rehearsal.credentials import check_app_credentials, check_no_credential_in_state
from tools.rehearsal.errors import CheckFailed
from tools.rehearsal.terraform import TIMEOUTS, Terraform, diagnostics, stop_process_groups, tail
from tools.scan.runner import scan_plan
from tools.tfjson import Stack, remote_output

DIRECTIONS = ("ingress", "egress")
# (protocol, peer: a group name or a CIDR, from port, to port); AWS says -1 for "all ports".
Rule = tuple[str, str, int, int]


@dataclass
class Applied:
    """An applied stack as the checks see it: its Terraform, its synthesized configuration, the emulator."""

    tf: Terraform
    stack: Stack
    client: Callable[[str], Any]
    created: int
    # The stacks whose outputs this one reads from their state (a compute: homu-data), by name.
    producers: dict[str, Stack] = field(default_factory=dict)

    @cached_property
    def outputs(self) -> dict[str, Any]:
        return self.tf.outputs()

    @property
    def backend(self) -> dict[str, Any]:
        """The stack's S3 backend block: where its state lives and which key encrypts it."""
        return self.stack.config["terraform"]["backend"]["s3"]

    @property
    def bucket(self) -> str:
        return self.backend["bucket"]

    @property
    def state_key(self) -> str:
        return self.backend["key"]

    def state_text(self) -> str:
        return self.client("s3").get_object(Bucket=self.bucket, Key=self.state_key)["Body"].read().decode()

    def lock_objects(self) -> list[str]:
        listing = self.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=self.state_key)
        return [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".tflock")]


# --- security groups ----------------------------------------------------------------------------


def expected_rules(
    stack: Stack, producers: dict[str, Stack] | None = None
) -> dict[tuple[str, str], list[Rule]]:
    """``(group name, direction)`` -> the rules the configuration gives that group, for every group
    of the stack and every other stack's group it adds rules to (a group without rules in one
    direction expects none there). ``producers`` resolve groups read from another stack's state."""
    producers = producers or {}
    groups = [body["name"] for body in stack.resources("aws_security_group").values()]
    expected: dict[tuple[str, str], list[Rule]] = {(g, d): [] for g in groups for d in DIRECTIONS}
    for direction in DIRECTIONS:
        for body in stack.resources(f"aws_vpc_security_group_{direction}_rule").values():
            if "referenced_security_group_id" in body:
                peer = _group_name(stack, body["referenced_security_group_id"], producers)
            else:
                peer = body.get("cidr_ipv4") or body.get("cidr_ipv6") or body.get("prefix_list_id")
            rule = (body["ip_protocol"], peer, body.get("from_port", -1), body.get("to_port", -1))
            owner = _group_name(stack, body["security_group_id"], producers)
            for key in ((owner, d) for d in DIRECTIONS):
                expected.setdefault(key, [])
            expected[(owner, direction)].append(rule)
    return {key: sorted(rules) for key, rules in expected.items()}


def _group_name(stack: Stack, reference: str, producers: dict[str, Stack]) -> str:
    remote = remote_output(reference)
    if remote and remote[0] in producers:
        producer = producers[remote[0]]
        return _group_name(producer, producer.outputs[remote[1]]["value"], {})
    found = stack.referenced(reference, "aws_security_group")
    if len(found) != 1:
        raise CheckFailed(f"{reference!r} does not name one security group of {stack.name}")
    return found[0][1]["name"]


def security_group_differences(
    expected: dict[tuple[str, str], list[Rule]], groups: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> list[str]:
    """Where the emulator's groups and rules (DescribeSecurityGroups, DescribeSecurityGroupRules)
    differ from ``expected`` (``expected_rules``), per group and direction; [] if nowhere."""
    ids = {g["GroupName"]: g["GroupId"] for g in groups}
    names = {group_id: name for name, group_id in ids.items()}
    problems = []
    for (name, direction), wanted in expected.items():
        if name not in ids:
            problems.append(f"{name} {direction}: the group does not exist")
            continue
        found = sorted(
            _emulated_rule(rule, names)
            for rule in rules
            if rule["GroupId"] == ids[name] and rule["IsEgress"] == (direction == "egress")
        )
        if found != wanted:
            problems.append(f"{name} {direction}: expected {wanted}, found {found}")
    return problems


def _emulated_rule(rule: dict[str, Any], names: dict[str, str]) -> Rule:
    if rule.get("ReferencedGroupInfo"):
        group_id = rule["ReferencedGroupInfo"]["GroupId"]
        peer = names.get(group_id, group_id)
    else:
        peer = rule.get("CidrIpv4") or rule.get("CidrIpv6") or rule.get("PrefixListId") or "?"
    return (rule["IpProtocol"], peer, rule.get("FromPort", -1), rule.get("ToPort", -1))


def check_security_groups(applied: Applied) -> str:
    """Every rule of every group the stack owns or adds rules to, ingress and egress, exactly as the
    configuration gives it (on the data tier's groups: only the deployed compute's rules)."""
    ec2 = applied.client("ec2")
    expected = expected_rules(applied.stack, applied.producers)
    named = [{"Name": "group-name", "Values": sorted({name for name, _ in expected})}]
    groups = ec2.describe_security_groups(Filters=named)["SecurityGroups"]
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [g["GroupId"] for g in groups]}]
    )["SecurityGroupRules"]
    problems = security_group_differences(expected, groups, rules)
    if problems:
        raise CheckFailed("rules differ from the configuration", "\n".join(problems))
    count = sum(map(len, expected.values()))
    return f"{len(expected) // len(DIRECTIONS)} groups, {count} rules exactly as designed"


# --- network ACL ----------------------------------------------------------------------------------

# The provider's protocol names as the EC2 API reports them (numbers), "-1" being every protocol.
_PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "-1": "-1", "all": "-1"}
# AWS's own last rule of every ACL (deny everything), which no configuration states.
_CATCH_ALL_RULE = 32767
# (egress, rule number, protocol number, action, CIDR, from port, to port, ICMP (type, code) or None)
AclEntry = tuple[bool, int, str, str, str, int, int, tuple[int, int] | None]


def expected_acl_entries(stack: Stack) -> list[AclEntry]:
    acl = stack.resource("aws_default_network_acl")
    entries = []
    for direction in DIRECTIONS:
        for rule in acl.get(direction, []):
            protocol = _PROTOCOL_NUMBERS[str(rule["protocol"]).lower()]
            ports = (-1, -1) if protocol == "-1" else (rule["from_port"], rule["to_port"])
            cidr = rule.get("cidr_block") or rule.get("ipv6_cidr_block")
            icmp = (rule["icmp_type"], rule["icmp_code"]) if protocol == "1" else None
            entries.append(
                (direction == "egress", rule["rule_no"], protocol, rule["action"], cidr, *ports, icmp)
            )
    return sorted(entries, key=str)


def _emulated_acl_entry(entry: dict[str, Any]) -> AclEntry:
    protocol = str(entry["Protocol"])
    ports = entry.get("PortRange", {})
    icmp = entry.get("IcmpTypeCode")
    return (
        entry["Egress"],
        entry["RuleNumber"],
        protocol,
        entry["RuleAction"],
        entry.get("CidrBlock") or entry.get("Ipv6CidrBlock"),
        *((-1, -1) if protocol == "-1" else (ports.get("From", -1), ports.get("To", -1))),
        (icmp.get("Type"), icmp.get("Code")) if icmp and protocol == "1" else None,
    )


def network_acl_differences(stack: Stack, acl: dict[str, Any]) -> list[str]:
    """Where the VPC's default ACL (one DescribeNetworkAcls item) differs from the configuration's rules."""
    found = {_emulated_acl_entry(entry) for entry in acl["Entries"] if entry["RuleNumber"] != _CATCH_ALL_RULE}
    wanted = set(expected_acl_entries(stack))
    return [f"missing {entry}" for entry in sorted(wanted - found, key=str)] + [
        f"not configured {entry}" for entry in sorted(found - wanted, key=str)
    ]


def check_network_acl(applied: Applied) -> str:
    """The VPC's default network ACL holds exactly the configured rules and guards every subnet."""
    ec2 = applied.client("ec2")
    vpc = [{"Name": "vpc-id", "Values": [applied.outputs["vpc_id"]]}, {"Name": "default", "Values": ["true"]}]
    (acl,) = ec2.describe_network_acls(Filters=vpc)["NetworkAcls"]
    problems = network_acl_differences(applied.stack, acl)
    subnets = {s["SubnetId"] for s in ec2.describe_subnets(Filters=vpc[:1])["Subnets"]}
    unguarded = sorted(subnets - {a["SubnetId"] for a in acl.get("Associations", [])})
    if unguarded:
        problems.append(f"subnets outside the default ACL: {unguarded}")
    if problems:
        raise CheckFailed("the default network ACL differs from the configuration", "\n".join(problems))
    return f"default ACL: {len(expected_acl_entries(applied.stack))} rules as configured, on all {len(subnets)} subnets"


# --- database and deletion protection ------------------------------------------------------------


def check_database(applied: Applied) -> str:
    """The database's exposure, encryption, Multi-AZ, name and user as configured."""
    configured = applied.stack.resource("aws_db_instance")
    identifier = configured["identifier"]
    instance = _database(applied, identifier)
    problems = [
        f"{key} is {instance.get(key)!r}, configured {wanted!r}"
        for key, wanted in (
            ("PubliclyAccessible", configured.get("publicly_accessible", False)),
            ("StorageEncrypted", configured.get("storage_encrypted", False)),
            ("MultiAZ", configured.get("multi_az", False)),
            ("DBName", configured.get("db_name")),
            ("MasterUsername", configured["username"]),
        )
        if instance.get(key) != wanted
    ]
    if problems:
        raise CheckFailed(f"{identifier}: " + "; ".join(problems))
    exposure = "public" if instance["PubliclyAccessible"] else "private"
    encryption = "encrypted" if instance["StorageEncrypted"] else "unencrypted"
    return f"{identifier} {exposure}, {encryption}, Multi-AZ {instance['MultiAZ']}"


def check_database_events(applied: Applied) -> str:
    """Each configured RDS event subscription exists once, for its source, to the alert topic, in the
    configured categories: the instance's, and its parameter group's."""
    sources = {
        "db-instance": applied.stack.resource("aws_db_instance")["identifier"],
        "db-parameter-group": applied.stack.resource("aws_db_parameter_group")["name"],
    }
    existing = applied.client("rds").describe_event_subscriptions()["EventSubscriptionsList"]
    said = []
    for configured in applied.stack.resources("aws_db_event_subscription").values():
        source = sources[configured["source_type"]]
        found = [
            s
            for s in existing
            if s["SourceType"] == configured["source_type"] and source in s.get("SourceIdsList", [])
        ]
        if len(found) != 1:
            raise CheckFailed(
                f"{len(found)} {configured['source_type']} event subscriptions name {source}, expected one"
            )
        (subscription,) = found
        problems = [
            f"{key} is {have!r}, configured {wanted!r}"
            for key, have, wanted in (
                ("SnsTopicArn", subscription["SnsTopicArn"], applied.outputs["alert_topic_arn"]),
                (
                    "EventCategoriesList",
                    sorted(subscription["EventCategoriesList"]),
                    sorted(configured["event_categories"]),
                ),
                ("Enabled", subscription["Enabled"], configured.get("enabled", True)),
            )
            if have != wanted
        ]
        if problems:
            raise CheckFailed(f"{subscription['CustSubscriptionId']}: " + "; ".join(problems))
        count = len(configured["event_categories"])
        said.append(f"{source}: {count} event {'category' if count == 1 else 'categories'}")
    if len(said) != len(sources):
        raise CheckFailed(
            f"{len(said)} event subscriptions configured, expected one per source ({', '.join(sources.values())})"
        )
    return "; ".join(said) + " to the alert topic"


def check_data_after_destroy(applied: Applied) -> str:
    """What a destroy of the data tier leaves, as configured: a final snapshot named after the key
    that encrypts it (a key still there, in its deletion window) and the automated backups retained;
    or, with ``skip_final_snapshot``, neither."""
    configured = applied.stack.resource("aws_db_instance")
    identifier, rds = configured["identifier"], applied.client("rds")
    prefix = f"{identifier}-final-"
    finals = [
        s["DBSnapshotIdentifier"]
        for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        if s["DBSnapshotIdentifier"].startswith(prefix)
    ]
    backups = [
        b["Status"]
        for b in rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
        if b["DBInstanceIdentifier"] == identifier
    ]
    if configured["skip_final_snapshot"]:
        if finals or backups:
            raise CheckFailed(
                f"skip_final_snapshot, yet {finals or 'no snapshot'} and backups {backups} remain"
            )
        return "no final snapshot and no automated backups, as configured (skip_final_snapshot)"
    if len(finals) != 1 or backups != ["retained"]:
        raise CheckFailed(
            f"final snapshots {finals} (expected one {prefix}<key id>), automated backups {backups}"
        )
    key = applied.client("kms").describe_key(KeyId=finals[0].removeprefix(prefix))["KeyMetadata"]
    days = (
        round((key["DeletionDate"] - datetime.now(UTC)).total_seconds() / 86400)
        if "DeletionDate" in key
        else None
    )
    return f"final snapshot {finals[0]} (its key {key['KeyState']}, deleted in {days} days) and the automated backups retained"


def database_identities(applied: Applied) -> dict[str, tuple[str, str]]:
    """Each configured database's ARN and creation time: what a replacement would change."""
    identities = {}
    for body in applied.stack.resources("aws_db_instance").values():
        instance = _database(applied, body["identifier"])
        identities[body["identifier"]] = (instance["DBInstanceArn"], str(instance["InstanceCreateTime"]))
    return identities


def check_data_tier_kept(data: Applied, before: dict[str, tuple[str, str]]) -> str:
    """After a compute's destroy the database is the one created before it (same ARN, same creation
    time), and the data tier's groups admit nothing any more: the compute took its rules with it."""
    after = database_identities(data)
    if after != before:
        raise CheckFailed(f"the database changed: before {before}, after {after}")
    check_security_groups(data)
    return f"{', '.join(after)} untouched (same ARN and creation time); its groups admit nothing"


def _database(applied: Applied, identifier: str) -> dict[str, Any]:
    rds = applied.client("rds")
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    return instance


def _configured_protection(stack: Stack) -> dict[str, bool]:
    """What the configuration protects from deletion, e.g. ``{"database homu-db": True}``."""
    protection = {
        f"database {body['identifier']}": bool(body.get("deletion_protection"))
        for body in stack.resources("aws_db_instance").values()
    }
    protection.update(
        {
            f"load balancer {body['name']}": bool(body.get("enable_deletion_protection"))
            for body in stack.resources("aws_lb").values()
        }
    )
    return protection


def check_deletion_protection(applied: Applied) -> str:
    """Deletion protection on the database (and the load balancer) exactly as configured."""
    found = {
        f"database {body['identifier']}": _database(applied, body["identifier"])["DeletionProtection"]
        for body in applied.stack.resources("aws_db_instance").values()
    }
    elbv2 = applied.client("elbv2")
    for body in applied.stack.resources("aws_lb").values():
        (balancer,) = elbv2.describe_load_balancers(Names=[body["name"]])["LoadBalancers"]
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])
        values = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
        found[f"load balancer {body['name']}"] = values.get("deletion_protection.enabled") == "true"
    wanted = _configured_protection(applied.stack)
    wrong = [
        f"{what} {_on(found[what])}, configured {_on(on)}" for what, on in wanted.items() if found[what] != on
    ]
    if wrong:
        raise CheckFailed("; ".join(wrong))
    if len(set(wanted.values())) == 1:
        return f"{_on(next(iter(wanted.values())))} for the " + " and the ".join(wanted)
    return "; ".join(f"{what} {_on(on)}" for what, on in wanted.items())


def _on(flag: bool) -> str:
    return "on" if flag else "off"


# --- state and locking -------------------------------------------------------------------------------


def check_state_object(applied: Applied) -> str:
    """The state object holds every created resource, no lock is left, and the object is encrypted
    with the state key the backend names (not S3's own key)."""
    location = f"s3://{applied.bucket}/{applied.state_key}"
    managed = [r for r in json.loads(applied.state_text())["resources"] if r["mode"] == "managed"]
    if len(managed) != applied.created:
        raise CheckFailed(f"{location} holds {len(managed)} resources, the apply created {applied.created}")
    _no_lock_left(applied, "the apply")
    named = applied.backend["kms_key_id"]
    head = applied.client("s3").head_object(Bucket=applied.bucket, Key=applied.state_key)
    kms = applied.client("kms")
    wanted = kms.describe_key(KeyId=named)["KeyMetadata"]["Arn"]
    used = head.get("SSEKMSKeyId") and kms.describe_key(KeyId=head["SSEKMSKeyId"])["KeyMetadata"]["Arn"]
    if head.get("ServerSideEncryption") != "aws:kms" or used != wanted:
        raise CheckFailed(f"{location} is encrypted with {head.get('SSEKMSKeyId')!r}, not {named} ({wanted})")
    return f"{location} holds all {len(managed)} resources, encrypted with {named}; no lock object"


def _no_lock_left(applied: Applied, holder: str) -> None:
    left = applied.lock_objects()
    if left:
        raise CheckFailed(f"a lock object outlived {holder}: {left}")


def check_lock(applied: Applied) -> str:
    """A Terraform waiting for approval holds the lock: its ``.tflock`` object exists and a second
    Terraform is refused (``-lock-timeout=0s``); after the first is answered "no" the object is gone.

    The holder is ``apply -destroy`` stopped at its prompt, which only an exact "yes" would pass.
    """
    tf, lock_key = applied.tf, applied.state_key + ".tflock"
    holder, chunks = tf.start_interactive(
        ["apply", "-destroy", "-refresh=false", "-no-color", "-input=true", "-lock-timeout=0s"]
    )
    seen = ""
    try:
        deadline = time.monotonic() + TIMEOUTS["lock"]
        while "Enter a value:" not in seen:
            try:
                chunk = chunks.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                chunk = ""
            if chunk is None or time.monotonic() > deadline:
                raise CheckFailed("the lock-holding Terraform did not reach its approval prompt", tail(seen))
            seen += chunk
        held = applied.lock_objects()
        if held != [lock_key]:
            raise CheckFailed(
                f"while a Terraform run holds the lock, expected {lock_key} in the bucket, found {held}",
                tail(seen),
            )
        lock = applied.client("s3").get_object(Bucket=applied.bucket, Key=lock_key)
        lock_id = json.loads(lock["Body"].read())["ID"]
        second = tf.run(
            "check lock",
            ["plan", "-input=false", "-no-color", "-lock-timeout=0s", "-refresh=false"],
            timeout=TIMEOUTS["lock"],
            check=False,
        )
        refused = "Error acquiring the state lock" in second.output and lock_id in second.output
        if second.returncode == 0 or not refused:
            raise CheckFailed(
                f"a second Terraform was not refused while the lock {lock_id} was held", diagnostics(second)
            )
        assert holder.stdin is not None
        holder.stdin.write(b"no\n")
        holder.stdin.flush()
        holder.wait(timeout=TIMEOUTS["lock"])
    finally:
        if holder.poll() is None:
            stop_process_groups([holder], grace=15)
    while (chunk := chunks.get(timeout=10)) is not None:
        seen += chunk
    if "cancelled" not in seen:
        raise CheckFailed("the lock-holding Terraform did not cancel", tail(seen))
    _no_lock_left(applied, "the run that held it")
    return f"{lock_key} exists while held, refuses a second Terraform, is gone afterwards"


# --- policy scan of the real plan -------------------------------------------------------------------


def check_plan_scan(applied: Applied) -> str:
    """The policy scan of the applied stack's re-plan (``terraform show -json``) is as clean as the
    scan of its synthesized JSON: a plan also carries computed attributes, such as a security group's
    ``ingress`` built from its rule resources, which the exceptions must reach."""
    shown = applied.tf.run(
        "check plan scan", ["show", "-json", "-no-color", "replan"], timeout=TIMEOUTS["show"]
    )
    plan = applied.tf.directory / "replan.json"
    plan.write_text(shown.stdout)
    target, parse_errors = scan_plan(plan, applied.tf.directory, [])
    if parse_errors:
        raise CheckFailed(f"checkov could not read the plan: {parse_errors}")
    if target.failed:
        raise CheckFailed(
            f"{len(target.failed)} failures in the plan's scan",
            "\n".join(f"{f.check_id} {f.resource}: {f.name}" for f in target.failed),
        )
    return f"plan: {len(target.passed)} passed, 0 failed, {len(target.skipped)} skipped with a reason"


# --- after destroy ----------------------------------------------------------------------------------


def check_leftovers(applied: Applied) -> str:
    """After destroy nothing of the stack is left, and its cache users' ids are free for reuse at
    once. What other stacks own (a compute's destroy leaves the data tier) is not looked at."""
    client, stack = applied.client, applied.stack
    users = {body["user_id"] for body in stack.resources("aws_elasticache_user").values()}
    left = [
        f"cache user {x['UserId']}"
        for x in client("elasticache").describe_users()["Users"]
        if x["UserId"] in users
    ]
    databases = {body["identifier"] for body in stack.resources("aws_db_instance").values()}
    left += [
        f"database {x['DBInstanceIdentifier']}"
        for x in client("rds").describe_db_instances()["DBInstances"]
        if x["DBInstanceIdentifier"] in databases
    ]
    caches = {
        body["replication_group_id"] for body in stack.resources("aws_elasticache_replication_group").values()
    }
    groups = client("elasticache").describe_replication_groups()["ReplicationGroups"]
    left += [f"cache {x['ReplicationGroupId']}" for x in groups if x["ReplicationGroupId"] in caches]
    balancers = {body["name"] for body in stack.resources("aws_lb").values()}
    left += [
        f"load balancer {x['LoadBalancerName']}"
        for x in client("elbv2").describe_load_balancers()["LoadBalancers"]
        if x["LoadBalancerName"] in balancers
    ]
    ec2 = client("ec2")
    of_stack = [{"Name": "tag:Stack", "Values": [applied.tf.stack]}]
    left += [f"VPC {x['VpcId']}" for x in ec2.describe_vpcs(Filters=of_stack)["Vpcs"]]
    left += [
        f"security group {x['GroupName']}"
        for x in ec2.describe_security_groups(Filters=of_stack)["SecurityGroups"]
    ]
    left += [
        f"instance {i['InstanceId']}"
        for r in ec2.describe_instances(Filters=of_stack)["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    if left:
        raise CheckFailed("destroy left " + ", ".join(left))
    return "nothing left"


# After each remote-state stack's apply, in this order, each where the stack configures what it checks
# (the lock check and the leftover check run apart).
AFTER_APPLY: dict[str, tuple[Callable[[Applied], str], tuple[str, ...]]] = {
    "security groups": (check_security_groups, ("aws_security_group", "aws_vpc_security_group_ingress_rule")),
    "network ACL": (check_network_acl, ("aws_default_network_acl",)),
    "database events": (check_database_events, ("aws_db_event_subscription",)),
    "database": (check_database, ("aws_db_instance",)),
    "deletion protection": (check_deletion_protection, ("aws_db_instance", "aws_lb")),
    "app credentials": (check_app_credentials, ("aws_elasticache_user_group",)),
    "no credential in state": (check_no_credential_in_state, ()),
    "state object": (check_state_object, ()),
}


def checks_for(stack: Stack) -> dict[str, Callable[[Applied], str]]:
    """The checks of ``AFTER_APPLY`` that apply to ``stack``: those with no required resource type,
    or one of whose types the stack configures."""
    return {
        label: check
        for label, (check, types) in AFTER_APPLY.items()
        if not types or any(stack.resources(type_) for type_ in types)
    }
