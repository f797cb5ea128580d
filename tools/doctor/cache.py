"""The cache: the replication group's status, every hop from the app on 6379, the endpoint the app is
given, TLS, and the IAM user the app signs in as with its user group attached to the group."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from modules.names import DATA_STACK, REDIS_PORT
from modules.settings import Settings
from tools.doctor.app import App
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.endpoints import endpoint_check
from tools.doctor.model import Check, ok, problem, unchecked
from tools.doctor.reach import Peer, path_checks

AREA = "cache"
REDEPLOY = f"python -m tools.cdktf deploy {DATA_STACK}"


def cache_checks(
    aws: Aws, settings: Settings, data: dict[str, Any], stack: str, app: App | None, why: str
) -> list[Check]:
    group_id = data.get("cache_id") or settings.redis_id
    title = f"the cache {group_id} is available"
    try:
        group = aws.call("elasticache", "describe_replication_groups", ReplicationGroupId=group_id)[
            "ReplicationGroups"
        ][0]
    except CallFailed as error:
        if error.missing:
            return [problem(stack, AREA, title, f"no replication group {group_id} exists", [REDEPLOY])]
        return [unchecked(stack, AREA, title, str(error))]
    status = group.get("Status", "")
    checks = [
        ok(stack, AREA, title, f"{group_id} is {status}")
        if status in ("available", "modifying", "snapshotting")
        else problem(
            stack,
            AREA,
            title,
            f"{group_id} is {status}",
            [
                f"aws elasticache describe-events --region {aws.region} --source-type replication-group --source-identifier {group_id} --duration 1440"
            ],
        )
    ]
    if app is None:
        checks.append(unchecked(stack, AREA, f"the path from the app to {group_id} on {REDIS_PORT}", why))
    else:
        try:
            peer = _peer(aws, group)
        except CallFailed as error:
            peer = None
            checks.append(
                unchecked(stack, AREA, f"the path from the app to {group_id} on {REDIS_PORT}", str(error))
            )
        if peer:
            checks += path_checks(aws, app, peer, REDIS_PORT)
        primary = (group.get("NodeGroups") or [{}])[0].get("PrimaryEndpoint")
        if primary:
            actual = (primary["Address"], primary["Port"])
            names = ("REDIS_URL", "redis_url", "redis_endpoint")
            checks.append(endpoint_check(app, AREA, f"the cache {group_id}", actual, data, names))
    checks.append(
        ok(stack, AREA, "the cache speaks only TLS", f"{group_id}: transit encryption on")
        if group.get("TransitEncryptionEnabled")
        else problem(
            stack,
            AREA,
            "the cache speaks only TLS",
            f"{group_id} has transit encryption off: the app's rediss:// and IAM sign-in need it",
            [REDEPLOY + "   (turns it on in place)"],
        )
    )
    user_id = urlsplit(data.get("redis_url", "")).username or f"{group_id}-app"
    checks += [_user(aws, stack, user_id), _user_group(aws, stack, group, user_id)]
    return checks


def _peer(aws: Aws, group: dict[str, Any]) -> Peer | None:
    members = group.get("MemberClusters", [])
    if not members:
        return None
    cluster = aws.call("elasticache", "describe_cache_clusters", CacheClusterId=members[0])["CacheClusters"][
        0
    ]
    subnets = []
    if name := cluster.get("CacheSubnetGroupName"):
        subnet_group = aws.call("elasticache", "describe_cache_subnet_groups", CacheSubnetGroupName=name)
        subnets = [s["SubnetIdentifier"] for s in subnet_group["CacheSubnetGroups"][0].get("Subnets", [])]
    groups = [g["SecurityGroupId"] for g in cluster.get("SecurityGroups", [])]
    return Peer(AREA, f"the cache {group['ReplicationGroupId']}", groups, subnets)


def _user(aws: Aws, stack: str, user_id: str) -> Check:
    title = f"the cache user {user_id} exists, is active and signs in with IAM"
    try:
        users = aws.call("elasticache", "describe_users", UserId=user_id)["Users"]
    except CallFailed as error:
        if not error.missing:
            return unchecked(stack, AREA, title, str(error))
        users = []
    if not users:
        return problem(stack, AREA, title, f"no ElastiCache user {user_id} exists", [REDEPLOY])
    status, kind = users[0].get("Status"), users[0].get("Authentication", {}).get("Type", "")
    if status == "active" and kind == "iam":
        return ok(stack, AREA, title, f"{user_id}: {status}, authentication {kind}")
    fix = REDEPLOY + "   (the user is the stack's; the app signs in with IAM tokens)"
    return problem(stack, AREA, title, f"{user_id}: {status}, authentication {kind}", [fix])


def _user_group(aws: Aws, stack: str, group: dict[str, Any], user_id: str) -> Check:
    group_id, attached = group["ReplicationGroupId"], group.get("UserGroupIds", [])
    title = f"a user group holding {user_id} is active and attached to {group_id}"
    if not attached:
        add = (
            f"aws elasticache modify-replication-group --region {aws.region} --replication-group-id {group_id} "
            f"--user-group-ids-to-add {group_id}-users --apply-immediately"
        )
        return problem(
            stack,
            AREA,
            title,
            f"{group_id} has no user group: anyone reaching it signs in as default",
            [REDEPLOY, add],
        )
    try:
        groups = [
            aws.call("elasticache", "describe_user_groups", UserGroupId=g)["UserGroups"][0] for g in attached
        ]
    except CallFailed as error:
        return unchecked(stack, AREA, title, str(error))
    holding = [g for g in groups if user_id in g.get("UserIds", [])]
    if not holding:
        add = f"aws elasticache modify-user-group --region {aws.region} --user-group-id {attached[0]} --user-ids-to-add {user_id}"
        return problem(
            stack,
            AREA,
            title,
            f"{', '.join(attached)} attached to {group_id}, none holds {user_id}",
            [REDEPLOY, add],
        )
    active = [g for g in holding if g.get("Status") == "active"]
    if not active:
        return problem(
            stack, AREA, title, f"{holding[0]['UserGroupId']} is {holding[0].get('Status')}", [REDEPLOY]
        )
    return ok(stack, AREA, title, f"{active[0]['UserGroupId']}: active, attached to {group_id}")
