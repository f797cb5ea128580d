"""Plain words for what changed: a resource by its AWS name, a tag as a tag, values short enough for
one line."""

from __future__ import annotations

import json
from typing import Any

from tools.tfjson import display_name

# Maps compared key by key, so a tag reads as tags.Owner; tags_all repeats tags plus the defaults.
MAPS = ("tags", "environment", "parameters")
SHADOWS = {"tags_all": "tags"}
LONGEST_VALUE = 120


def normal(value: Any) -> Any:
    """Nothing is nothing: the provider reads back ``null``, ``[]``, ``{}`` and ``""`` for an unset
    value as it pleases (an alarm's ``insufficient_data_actions``, a user's ``passwords``)."""
    if isinstance(value, dict):
        value = {k: v for k, v in ((k, normal(v)) for k, v in value.items()) if v is not None}
    elif isinstance(value, list):
        value = [normal(v) for v in value]
    return None if value in ("", [], {}) else value


def friendly_name(type_: str, values: dict[str, Any]) -> str:
    """What AWS calls it (as the review labels resources), else its id (an alarm's is its name)."""
    return display_name(values) or str(values.get("id") or type_)


def show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def changed_attributes(
    type_: str, before: dict[str, Any], after: dict[str, Any], unknown: dict[str, Any] | None = None
) -> list[str]:
    """The attributes that differ, maps key by key; with ``unknown`` (a planned change), the values
    only known after apply count only when nothing known changes."""
    known, later = [], []
    for attribute in sorted(set(before) | set(after)):
        if attribute in SHADOWS and SHADOWS[attribute] in after:
            continue
        old, new = normal(before.get(attribute)), normal(after.get(attribute))
        if unknown and unknown.get(attribute) is True:
            later.append(attribute)
            continue
        if old == new:
            continue
        if attribute in MAPS and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old, new = old or {}, new or {}
            known += [
                f"{attribute}.{key}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)
            ]
        else:
            known.append(attribute)
    return known or later


def attribute_sentence(name: str, attribute: str, old: Any, new: Any, *, pending: bool = False) -> str:
    """``homu-db: tag Owner = "alice" added outside Terraform``; pending: ``the code adds ...``."""
    what = f"tag {attribute.removeprefix('tags.')}" if attribute.startswith("tags.") else attribute
    if pending:
        if old is None:
            return f"{name}: the code sets {what} = {show(new)}"
        if new is None:
            return f"{name}: the code removes {what} (was {show(old)})"
        return f"{name}: the code changes {what} from {show(old)} to {show(new)}"
    if old is None:
        return f"{name}: {what} = {show(new)} added outside Terraform"
    if new is None:
        return f"{name}: {what} (was {show(old)}) removed outside Terraform"
    return f"{name}: {what} changed from {show(old)} to {show(new)} outside Terraform"
