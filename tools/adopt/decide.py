"""What the first apply does with each resource, read from Terraform's own plan, and what ``adopt``
refuses: a data holder replaced or destroyed, or anything else replaced without the user's flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What holds data no flag may throw away, and how to move it instead.
MIGRATIONS = {
    "aws_db_instance": (
        "snapshot the instance, restore the snapshot as a new instance with what the project sets "
        "(copy it with the stack's key first when the key differs), move the app to it, and adopt that "
        "instance (docs/adopting.md#what-adopt-refuses)"
    ),
    "aws_ecr_repository": (
        "keep the repository's encryption (adoption.registry_encryption, which adopt mirrors), or push "
        "the images into a repository of another name (app_name) before retiring this one"
    ),
    "aws_cloudwatch_log_group": "export the logs to S3 (aws logs create-export-task) first",
    "aws_s3_bucket": "copy the objects to a bucket of another name first",
    "aws_secretsmanager_secret": "copy the value into the new secret first",
    "aws_kms_key": "re-encrypt what the key protects first: a deleted key makes its data unreadable",
}
# What a replacement costs, for what may be replaced with --replace NAME.
COSTS = {
    "aws_elasticache_replication_group": (
        "a cold cache: every key and session in Redis is gone, and Redis is unreachable for the "
        "minutes the new group takes (about 10 on AWS)"
    ),
    "aws_ecs_service": "no task serves from the old service's deletion until the new one's first healthy task",
    "aws_lb": "a new DNS name: records that point at the old one must follow",
    "aws_instance": "the host is down until the new one has started",
}
STATELESS_COST = "recreated; it holds no data"
# What an update in place of these arguments means for the users (the switch-over's downtime).
UPDATE_NOTES = {
    ("aws_db_instance", "manage_master_user_password"): (
        "the master password moves to RDS's own secret: a new password, so a URL with the old one stops working"
    ),
    (
        "aws_db_instance",
        "parameter_group_name",
    ): "the parameter group (rds.force_ssl) applies at the next reboot",
    ("aws_db_instance", "ca_cert_identifier"): "the new CA applies at the next reboot",
    ("aws_ecs_service", "task_definition"): "the service rolls to the new task definition",
}


@dataclass(frozen=True)
class Row:
    stack: str
    address: str
    name: str  # the AWS name or id the user knows it by (what --replace takes)
    found: str  # what exists now ("" when nothing does)
    action: str
    because: str  # the attribute(s) that decide the action
    notes: tuple[str, ...] = ()  # what an update in place means for the users


def _changed(change: dict[str, Any]) -> list[str]:
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    keys = {k for k in set(before) | set(after) if k not in ("tags_all", "id", "arn")}
    return sorted(
        k for k in keys if before.get(k) != after.get(k) or (unknown.get(k) is True and before.get(k))
    )


def action(change: dict[str, Any]) -> tuple[str, str]:
    """(action, the attributes that decide it) of one ``resource_changes[].change``."""
    actions, importing = change["actions"], "importing" in change
    prefix = "import, " if importing else ""
    if actions == ["no-op"] or actions == ["read"]:
        return ("import unchanged" if importing else "unchanged"), ""
    if actions == ["update"]:
        # What the users notice first, then the rest by name.
        changed = sorted(_changed(change), key=lambda k: (not any(k == a for _, a in UPDATE_NOTES), k))
        more = f" and {len(changed) - 6} more" if len(changed) > 6 else ""
        return prefix + "update in place", ", ".join(changed[:6]) + more
    if sorted(actions) == ["create", "delete"]:
        paths = [".".join(str(p) for p in path) for path in change.get("replace_paths") or []]
        return prefix + "replace", ", ".join(sorted(set(paths))) or ", ".join(_changed(change)[:6])
    if actions == ["create"]:
        return "create", ""
    return "destroy", ""


def rows(stack: str, plan: dict[str, Any], found: dict[str, tuple[str, str]]) -> list[Row]:
    """One row per resource the plan touches; ``found``: address -> (name, what exists)."""
    result = []
    for change in plan.get("resource_changes", []):
        if change.get("mode") != "managed":
            continue
        address = change["address"]
        what, because = action(change["change"])
        name, exists = found.get(address, (change.get("name", ""), ""))
        notes = ()
        if what.endswith("update in place"):
            notes = tuple(
                UPDATE_NOTES[key]
                for k in _changed(change["change"])
                if (key := (change["type"], k)) in UPDATE_NOTES
            )
        result.append(Row(stack, address, name, exists, what, because, notes))
    return result


def refusals(table: list[Row], *, allowed: set[str], images: dict[str, int]) -> list[str]:
    """One line per replacement or destroy of something that exists that adopt will not let through."""
    lines = []
    for row in table:
        if not row.action.endswith(("replace", "destroy")) or not row.found:
            continue
        type_ = row.address.split(".")[0]
        if type_ in MIGRATIONS and not (type_ == "aws_ecr_repository" and not images.get(row.name)):
            lines.append(
                f"{row.stack} {row.address} ({row.name}): the plan would {row.action.removeprefix('import, ')} "
                f"it because of {row.because or 'its arguments'}, and its data with it; {MIGRATIONS[type_]}"
            )
        elif row.name not in allowed:
            lines.append(
                f"{row.stack} {row.address} ({row.name}): the plan would {row.action.removeprefix('import, ')} "
                f"it because of {row.because or 'its arguments'}; pass --replace {row.name} to accept: "
                f"{COSTS.get(type_, STATELESS_COST)}"
            )
    return lines


def cost(row: Row) -> str:
    """What the row's action costs the users: a replacement's price, an update's consequences."""
    if row.action.endswith("replace"):
        return COSTS.get(row.address.split(".")[0], STATELESS_COST)
    return "; ".join(row.notes)
