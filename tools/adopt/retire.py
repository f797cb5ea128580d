"""The retire step: what the hand-built deployment leaves that the design removes (``adoption.retire``,
recorded by adopt before the first apply moved things away), removed only when asked, after the
stacks serve: the guide's hosts, target groups, security groups (with their rules open to the world)
and its secrets (the database URL with the password in clear text), secrets with a recovery window."""

from __future__ import annotations

from collections.abc import Callable

from modules.names import COMPUTE_STACKS, DATA_STACK, INTERNET_V4
from modules.settings import Settings
from tools.adopt import guide
from tools.adopt.account import Account


def _in_use(account: Account, group_id: str, leaving: set[str]) -> list[str]:
    """What still uses a group: network interfaces (but those of the hosts ``leaving``), RDS instances,
    cache clusters, load balancers."""
    users = [
        f"network interface {i['NetworkInterfaceId']}"
        for i in account.client("ec2").describe_network_interfaces(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )["NetworkInterfaces"]
        if i.get("Attachment", {}).get("InstanceId") not in leaving
    ]
    users += [
        f"RDS instance {db['DBInstanceIdentifier']}"
        for db in account.client("rds").describe_db_instances()["DBInstances"]
        if any(g["VpcSecurityGroupId"] == group_id for g in db.get("VpcSecurityGroups", []))
    ]
    users += [
        f"cache cluster {c['CacheClusterId']}"
        for c in account.client("elasticache").describe_cache_clusters()["CacheClusters"]
        if any(g["SecurityGroupId"] == group_id for g in c.get("SecurityGroups", []))
    ]
    users += [
        f"load balancer {lb['LoadBalancerName']}"
        for lb in account.client("elbv2").describe_load_balancers()["LoadBalancers"]
        if group_id in lb.get("SecurityGroups", [])
    ]
    return users


def world_opening(rule: dict) -> dict | None:
    """Of one permission, only its opening to the world on 22 or 8000 (its other sources stay)."""
    ports = any(
        rule.get("FromPort", 0) <= port <= rule.get("ToPort", 65535) for port in guide.WORLD_OPEN_PORTS
    )
    v4 = [r for r in rule.get("IpRanges", []) if r.get("CidrIp") == INTERNET_V4]
    v6 = [r for r in rule.get("Ipv6Ranges", []) if r.get("CidrIpv6") == "::/0"]
    if not (ports and (v4 or v6)):
        return None
    kept = {k: rule[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in rule}
    return {**kept, "IpRanges": v4, "Ipv6Ranges": v6}


def retire(settings: Settings, *, apply: bool, say: Callable[[str], None] = print) -> list[str]:
    """Says (and with ``apply`` does) each removal; returns the problems that stop it."""
    account = Account(settings)
    recorded = settings.adoption.retire if settings.adoption else None
    deployed = [name for name in (DATA_STACK, *COMPUTE_STACKS) if account.state_addresses(name)]
    if DATA_STACK not in deployed or not set(deployed) & set(COMPUTE_STACKS):
        return [
            f"deploy {DATA_STACK} and a compute with these settings first: nothing is retired before they serve"
        ]
    if recorded is None:
        return ["settings have no adoption.retire: run python -m tools.adopt first"]
    ec2, verb = account.client("ec2"), "" if apply else "would "

    leaving = set(recorded.instances) & set(account.instances_in(recorded.security_groups))
    for instance in sorted(leaving):
        say(f"{verb}terminate the hand-built host {instance}")
        if apply:
            ec2.terminate_instances(InstanceIds=[instance])
            ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance])
    elbv2 = account.client("elbv2")
    for arn in recorded.target_groups:
        groups = account.unless_missing(lambda arn=arn: elbv2.describe_target_groups(TargetGroupArns=[arn]))
        if not groups:
            continue
        balancers = [b.split("/")[-2] for b in groups["TargetGroups"][0]["LoadBalancerArns"]]
        if balancers:
            say(f"keep the target group {arn.split('/')[-2]}: {', '.join(balancers)} still forwards to it")
        else:
            say(f"{verb}delete the target group {arn.split('/')[-2]} (no listener forwards to it)")
            if apply:
                elbv2.delete_target_group(TargetGroupArn=arn)
    existing = account.group_names(recorded.security_groups)  # those not deleted yet
    users = {g: _in_use(account, g, leaving) for g in existing}
    unused = {g for g, used_by in users.items() if not used_by}
    details = ec2.describe_security_groups(GroupIds=sorted(existing))["SecurityGroups"] if existing else []
    for group in details:
        rules = (
            group["IpPermissions"]
            if group["GroupId"] in unused
            else [opening for r in group["IpPermissions"] if (opening := world_opening(r))]
        )
        if rules:
            what = (
                "every rule of" if group["GroupId"] in unused else "the rules open to the world on 22/8000 of"
            )
            say(f"{verb}revoke {what} {group['GroupName']} ({group['GroupId']})")
            if apply:
                ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=rules)
    for group_id, name in sorted(existing.items()):
        if group_id in unused:
            say(f"{verb}delete the security group {name} ({group_id}): nothing uses it")
            if apply:
                ec2.delete_security_group(GroupId=group_id)
        else:
            say(f"keep the security group {name} ({group_id}): used by {', '.join(users[group_id])}")
    secrets = account.client("secretsmanager")
    for name in recorded.secrets:
        if account.secret(name):
            say(f"{verb}delete the secret {name} (recoverable for {guide.RECOVERY_WINDOW_DAYS} days)")
            if apply:
                secrets.delete_secret(SecretId=name, RecoveryWindowInDays=guide.RECOVERY_WINDOW_DAYS)
    if not apply:
        say("nothing was changed: run again with --yes once the stacks serve")
    return []
