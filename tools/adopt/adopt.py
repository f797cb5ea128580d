"""``adopt``'s one pass, read-only: find what the account holds under the stacks' names, mirror what
must be mirrored to keep the data, plan each stack with the import blocks, decide, refuse."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modules.names import DATA_STACK, HTTP_PORT, POSTGRES_PORT, REMOTE_STATE_STACKS
from modules.settings import Settings, validate
from tools.adopt import guide
from tools.adopt.account import Account, Found
from tools.adopt.decide import Row, refusals, rows
from tools.adopt.match import existing
from tools.readonly_plan import plan, synthesized

# Appended to the project's group names where the hand-built deployment has groups of those names.
GROUP_SUFFIX = "-tf"
PENDING = "import (planned once homu-data is deployed: run adopt again then)"


@dataclass
class Outcome:
    settings: dict[str, Any]  # what the settings file holds after this pass
    table: list[Row] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # stacks Terraform planned
    retire: list[str] = field(default_factory=list)  # what the retire step will remove, by name


def mirror(
    base: dict[str, Any], settings: Settings, account: Account, database: Found | None
) -> dict[str, Any]:
    """``base`` plus what keeps the existing data: the database's network, master user, database name,
    storage and key, and the repository's encryption (each of which would otherwise replace them)."""
    raw = copy.deepcopy(base)
    adoption = raw.setdefault("adoption", {})
    if database:
        facts = database.facts
        if settings.existing_network is None:
            raw["existing_network"] = account.network(facts["vpc_id"], facts["subnet_ids"])
            raw["nat_gateways"] = (
                "none"  # an existing network brings its own routes (docs/existing-network.md)
            )
        raw["db_username"] = facts["username"]
        if facts["db_name"]:
            raw["db_name"] = facts["db_name"]
        raw["db_allocated_storage"] = max(settings.db_allocated_storage, facts["allocated_storage"])
        if facts["encrypted"] and facts["kms_key_id"]:
            adoption["database_kms_key_id"] = facts["kms_key_id"]
    if repository := account.repository(settings.app_name):
        adoption["registry_encryption"] = repository.facts["encryption"]
    return raw


def _relations(account: Account, settings: Settings, ours: dict[str, set[str]]) -> dict[str, list[str]]:
    """What the design removes, found through what uses it: the groups of the database, the cache,
    the load balancer and the service, the groups admitted to the database, the hosts in those groups,
    the target groups behind the load balancer's listener, and the guide's secrets."""
    database = account.database(settings.db_identifier)
    cache = account.cache(settings.redis_id)
    balancer = account.load_balancer(settings.alb_name)
    service = account.service(settings.cluster_name, settings.service_name)
    direct = [g for f in (database, cache, balancer, service) if f for g in f.facts.get("group_ids", [])]
    database_groups = database.facts["group_ids"] if database else []
    names = account.group_names(direct + account.sources_of(database_groups, POSTGRES_PORT))
    groups = sorted(g for g, name in names.items() if name not in ours["aws_security_group"])
    listener = account.listener(settings.alb_name, HTTP_PORT)
    return {
        "security_groups": groups,
        "instances": account.instances_in(groups),
        "secrets": [name for name in guide.SECRETS if account.secret(name)],
        "target_groups": sorted(
            arn
            for arn in (listener.facts["target_groups"] if listener else [])
            if arn.split("/")[-2] not in ours["aws_lb_target_group"]  # arn:...:targetgroup/NAME/ID
        ),
    }


def _described(account: Account, retire: dict[str, list[str]]) -> list[str]:
    """What of the recorded retirement is still there, by name (after the retire step: nothing)."""
    groups = account.group_names(retire["security_groups"])
    hosts = set(account.instances_in(sorted(groups)))
    return [
        *(f"security group {groups[g]} ({g})" for g in retire["security_groups"] if g in groups),
        *(f"host {instance}" for instance in retire["instances"] if instance in hosts),
        *(
            f"target group {name}"
            for arn in retire["target_groups"]
            if account.target_group(name := arn.split("/")[-2])
        ),
        *(f"secret {name}" for name in retire["secrets"] if account.secret(name)),
    ]


def _names(stacks: dict[str, Any], type_: str) -> set[str]:
    return {
        body["name"]
        for stack in stacks.values()
        for body in stack.resources(type_).values()
        if isinstance(body.get("name"), str)
    }


def adopt(
    base: dict[str, Any],
    *,
    allowed: set[str],
    new_secret_key: bool,
    say: Callable[[str], None] = print,
) -> Outcome:
    settings = validate(base)
    account = Account(settings)
    if not account.bucket_exists(settings.state_bucket):
        return Outcome(
            base,
            refusals=[
                (
                    f"state_bucket {settings.state_bucket}: no such bucket; deploy homu-state first "
                    "(python -m tools.cdktf deploy homu-state), then run adopt again"
                )
            ],
        )
    database = account.database(settings.db_identifier)
    raw = mirror(base, settings, account, database)
    say(f"found: {database.what if database else f'no database {settings.db_identifier}'}")

    # First the stacks as the mirrored settings make them, without imports: which of their resources exist.
    mirrored = validate(raw)  # a bad mirrored value fails here, naming the setting
    states = {name: account.state_addresses(name) for name in REMOTE_STATE_STACKS}
    with synthesized(raw, prefix="adopt") as stacks:
        found = {name: existing(account, stack) for name, stack in stacks.items()}
        vpc_id = mirrored.existing_network.vpc_id if mirrored.existing_network else None
        clashes = sorted(
            name
            for name in _names(stacks, "aws_security_group")
            if vpc_id and account.security_group(vpc_id, name) is not None
        )
    adoption = raw["adoption"]
    if clashes and not adoption.get("group_name_suffix"):
        adoption["group_name_suffix"] = GROUP_SUFFIX
        say(
            f"groups made by hand hold the names {', '.join(clashes)}: the project's get the suffix {GROUP_SUFFIX}"
        )
    # What a stack's state already holds needs no import (a second pass, or a repaired deploy).
    imports = {
        name: {
            address: hit.import_id
            for address, (_, hit) in hits.items()
            if address not in (states[name] or set())
        }
        for name, hits in found.items()
    }
    adoption["imports"] = {name: dict(sorted(ids.items())) for name, ids in imports.items() if ids}
    final = validate(raw)

    outcome = Outcome(raw)
    with synthesized(raw, prefix="adopt") as stacks:
        ours = {type_: _names(stacks, type_) for type_ in ("aws_security_group", "aws_lb_target_group")}
        recorded = final.adoption.retire.model_dump() if final.adoption else {}
        relations = _relations(account, final, ours)
        adoption["retire"] = {
            key: sorted(set(recorded.get(key, [])) | set(ids)) for key, ids in relations.items()
        }
        for name, stack in stacks.items():
            names = {address: (label, hit.what) for address, (label, hit) in found[name].items()}
            if name != DATA_STACK and states[DATA_STACK] is None:
                outcome.table += [
                    Row(name, address, shown, what, PENDING, "")
                    for address, (shown, what) in sorted(names.items())
                ]
                continue
            say(f"planning {name} (read-only: refresh, no lock) ...")
            outcome.table += rows(name, plan(stack, deployed=states[name] is not None), names)
            outcome.planned.append(name)
    images = {
        label: hit.facts.get("images", 0)
        for hits in found.values()
        for address, (label, hit) in hits.items()
        if address.startswith("aws_ecr_repository.")
    }
    outcome.refusals = refusals(outcome.table, allowed=allowed, images=images)
    outcome.retire = _described(account, adoption["retire"])
    if guide.SECRET_KEY_SECRET in adoption["retire"]["secrets"] and not new_secret_key:
        outcome.refusals.append(
            f"{guide.SECRET_KEY_SECRET}: the stacks derive SECRET_KEY with KMS (docs/secrets.md), so every "
            "session and token signed with this key stops working at the switch-over; pass "
            "--new-secret-key to accept signing everyone out once (docs/adopting.md#what-adopt-refuses)"
        )
    return outcome
