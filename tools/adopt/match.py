"""Which synthesized resources already exist in the account: each importable resource's own name (or
its relation to one with a name) asked of the account, and the import id that ``terraform import``
takes for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.adopt.account import Account, Found
from tools.tfjson import REFERENCE, Stack

# type -> how to find it: (account, the resource's body, the stack it is in) -> what exists.
Finder = Callable[[Account, dict[str, Any], Stack], "Found | None"]


def _literal(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and "${" not in value else None


def _referenced(body: dict[str, Any], key: str, stack: Stack, name_key: str = "name") -> str | None:
    """The literal name of the resource ``body[key]`` refers to (``${aws_ecs_cluster.x.id}``)."""
    match = REFERENCE.search(str(body.get(key, "")))
    return _literal(stack.resources(match[1]).get(match[2], {}), name_key) if match else None


def _named(lookup: Callable[[Account, str], Found | None], key: str = "name") -> Finder:
    def find(account: Account, body: dict[str, Any], stack: Stack) -> Found | None:
        name = _literal(body, key)
        return lookup(account, name) if name else None

    return find


def _service(account: Account, body: dict[str, Any], stack: Stack) -> Found | None:
    name, cluster = _literal(body, "name"), _referenced(body, "cluster", stack)
    return account.service(cluster, name) if name and cluster else None


def _listener(account: Account, body: dict[str, Any], stack: Stack) -> Found | None:
    balancer = _referenced(body, "load_balancer_arn", stack)
    return account.listener(balancer, int(body["port"])) if balancer and "port" in body else None


def _security_group(account: Account, body: dict[str, Any], stack: Stack) -> Found | None:
    name, vpc_id = _literal(body, "name"), _literal(body, "vpc_id")
    if not (name and vpc_id):  # in the project's own VPC, unknown until it exists
        return None
    found = account.security_group(vpc_id, name)
    # A group of that name made by hand is not this one: its description (which replaces a group)
    # differs. ``group_name_suffix`` keeps the two apart (tools/adopt/mirror.py).
    return found if found and found.facts["description"] == body.get("description") else None


FINDERS: dict[str, Finder] = {
    "aws_db_instance": _named(Account.database, "identifier"),
    "aws_elasticache_replication_group": _named(Account.cache, "replication_group_id"),
    "aws_ecr_repository": _named(Account.repository),
    "aws_cloudwatch_log_group": _named(Account.log_group),
    "aws_ecs_cluster": _named(Account.cluster),
    "aws_ecs_service": _service,
    "aws_lb": _named(Account.load_balancer),
    "aws_lb_listener": _listener,
    "aws_lb_target_group": _named(Account.target_group),
    "aws_security_group": _security_group,
    "aws_iam_role": _named(Account.role),
}


def label(body: dict[str, Any], stack: Stack) -> str:
    """The name a user knows a resource by (what ``--replace`` takes)."""
    for key in ("identifier", "replication_group_id", "name"):
        if name := _literal(body, key):
            return name
    return f"{_referenced(body, 'load_balancer_arn', stack)}:{body.get('port')}"


def existing(account: Account, stack: Stack) -> dict[str, tuple[str, Found]]:
    """Address -> (its name, what the account already has) of each resource ``stack`` would create."""
    found: dict[str, tuple[str, Found]] = {}
    for type_, finder in FINDERS.items():
        for name, body in stack.resources(type_).items():
            if hit := finder(account, body, stack):
                found[f"{type_}.{name}"] = (label(body, stack), hit)
    return found
