"""What a read-only plan says about one stack, as findings: drift (the account changed) apart from
pending changes (the code changed).

Terraform's plan JSON has both halves. ``resource_drift`` is what the refresh found changed since the
last apply: the account's side. ``resource_changes`` is what the next deploy would do: it reverts
drift where the code sets the attribute, and applies what the code changed. A planned change that
only puts back a drifted value is drift, already reported; anything else the plan changes is pending.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tools.drift.unmanaged import FAMILIES, Resources, unmanaged_changes
from tools.drift.words import attribute_sentence, changed_attributes, friendly_name, normal

Kind = Literal["drift", "pending"]
QUIET = (["no-op"], ["read"])


@dataclass(frozen=True)
class Finding:
    stack: str
    kind: Kind
    address: str
    type: str
    name: str  # how AWS names it: homu-db-sg, /ecs/homu-backend, homu-db
    attribute: str | None  # tags.Owner, ingress, retention_in_days; None for the whole resource
    before: Any
    after: Any
    sentence: str  # the plain words
    fix: str  # what to do about it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def whole(common: dict[str, Any], sentence: str, fix: str) -> Finding:
    """A finding about the resource as a whole (created, deleted), not one attribute."""
    return Finding(**common, attribute=None, before=None, after=None, sentence=sentence, fix=fix)


def _refreshed(plan: dict[str, Any]) -> Resources:
    """Every managed resource of the refreshed state (the plan's ``prior_state``)."""
    module = plan.get("prior_state", {}).get("values", {}).get("root_module", {})
    return [
        (r["type"], r.get("values") or {}) for r in module.get("resources", []) if r.get("mode") == "managed"
    ]


def _by_address(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["address"]: entry for entry in entries if entry.get("mode", "managed") == "managed"}


def _reverts(planned: dict[str, Any] | None, attribute: str, drifted_from: Any) -> bool:
    """Whether the next deploy puts ``attribute`` back to the value it had before the drift."""
    if planned is None or planned["change"]["actions"] in QUIET:
        return False
    return normal(_value_at(planned["change"].get("after"), attribute)) == normal(drifted_from)


def _value_at(values: dict[str, Any] | None, attribute: str) -> Any:
    value: Any = values or {}
    for part in attribute.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _drift(
    stack: str, plan: dict[str, Any], resources: Resources
) -> tuple[list[Finding], dict[str, set[str]]]:
    """The drift findings, and per address the attributes they name (``*``: the whole resource).

    Reported: what the next deploy puts back (the code sets it), a resource deleted outside Terraform,
    and the members of a rule, policy or route set that no stack manages. Not reported: attributes the
    code leaves to AWS, which change on their own (``latest_restorable_time``) or as AWS pleases."""
    planned = _by_address(plan.get("resource_changes", []))
    drift = _by_address(plan.get("resource_drift", []))
    # A member deleted by hand is gone from the refreshed state; its value before the refresh still
    # says it was managed (reported on the member's own resource, not again on its parent).
    resources = resources + [(d["type"], d["change"].get("before") or {}) for d in drift.values()]
    findings: list[Finding] = []
    drifted: dict[str, set[str]] = {}
    for entry in drift.values():
        address, change, type_ = entry["address"], entry["change"], entry["type"]
        before, after = change.get("before") or {}, change.get("after")
        name = friendly_name(type_, before or after or {})
        common = {"stack": stack, "kind": "drift", "address": address, "type": type_, "name": name}
        if after is None or change["actions"] == ["delete"]:
            drifted[address] = {"*"}
            findings.append(
                whole(
                    common,
                    f"{name}: deleted outside Terraform",
                    f"the next deploy creates it again (python -m tools.cdktf deploy {stack})",
                )
            )
            continue
        for attribute in changed_attributes(type_, before, after):
            family = FAMILIES.get((type_, attribute.split(".")[0]))
            if family is not None:
                added, removed = unmanaged_changes(family, attribute, before, after, resources)
                for item in added:
                    findings.append(
                        Finding(
                            **common,
                            attribute=attribute,
                            before=None,
                            after=family.describe(item),
                            sentence=f"{name}: {family.describe(item)} exists that the code does not have; "
                            "added outside Terraform",
                            fix="a deploy leaves what the code does not know; remove it: "
                            + family.remove(after, item),
                        )
                    )
                for item in removed:
                    findings.append(
                        Finding(
                            **common,
                            attribute=attribute,
                            before=family.describe(item),
                            after=None,
                            sentence=f"{name}: {family.describe(item)} it had is gone; removed outside Terraform",
                            fix="the code does not make it; add it back by hand if it was needed",
                        )
                    )
                continue
            old, new = _value_at(before, attribute), _value_at(after, attribute)
            if not _reverts(planned.get(address), attribute, old):
                continue
            drifted.setdefault(address, set()).add(attribute)
            findings.append(
                Finding(
                    **common,
                    attribute=attribute,
                    before=old,
                    after=new,
                    sentence=attribute_sentence(name, attribute, old, new),
                    fix=f"the next deploy puts it back (python -m tools.cdktf deploy {stack}); "
                    "to keep it, write it into the code or the settings",
                )
            )
    return findings, drifted


def _pending(stack: str, plan: dict[str, Any], drifted: dict[str, set[str]]) -> list[Finding]:
    """What the next deploy changes that is not putting drift back."""
    findings = []
    for entry in _by_address(plan.get("resource_changes", [])).values():
        change = entry["change"]
        actions = change["actions"]
        if actions in QUIET:
            continue
        address = entry["address"]
        before, after = change.get("before") or {}, change.get("after") or {}
        name = friendly_name(entry["type"], after or before)
        common = {"stack": stack, "kind": "pending", "address": address, "type": entry["type"], "name": name}
        deploy = f"python -m tools.cdktf deploy {stack}"
        if actions == ["create"]:
            if "*" in drifted.get(address, ()):
                continue  # deleted outside Terraform: reported as drift
            findings.append(whole(common, f"{name}: the code adds it", f"{deploy} creates it"))
            continue
        if actions == ["delete"]:
            findings.append(whole(common, f"{name}: the code no longer has it", f"{deploy} destroys it"))
            continue
        unknown = change.get("after_unknown") or {}
        reverting = drifted.get(address, set())
        replaced = "create" in actions and "delete" in actions
        # An attribute the deploy puts back is drift, reported; the code changing it too is pending.
        attributes = [
            a for a in changed_attributes(entry["type"], before, after, unknown) if a not in reverting
        ]
        if replaced:
            # A new object differs from the old in everything AWS assigns: the arguments that force
            # the replacement are the change.
            forcing = {str(path[0]) for path in change.get("replace_paths") or [] if path}
            attributes = [a for a in attributes if a.split(".")[0] in forcing] or sorted(forcing)
        for attribute in attributes:
            old, new = _value_at(before, attribute), _value_at(after, attribute)
            if _value_at(unknown, attribute) is True:
                new = "(known after apply)"
            findings.append(
                Finding(
                    **common,
                    attribute=attribute,
                    before=old,
                    after=new,
                    sentence=attribute_sentence(name, attribute, old, new, pending=True),
                    fix=f"{deploy} applies it" + (" by replacing the resource" if replaced else ""),
                )
            )
    return findings


def findings(stack: str, plan: dict[str, Any], resources: Resources = ()) -> list[Finding]:
    """Drift first, then pending changes, each in the plan's order. ``resources``: every managed
    resource of the deployed stacks' states, as ``(type, values)``, for the members the stacks manage."""
    drift, drifted = _drift(stack, plan, [*_refreshed(plan), *resources])
    return drift + _pending(stack, plan, drifted)
