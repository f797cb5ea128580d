"""How many Fargate tasks run over a month: the scaling target, its cron schedule, the capacity providers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.cost.model import nested_block
from tools.tfjson import Stack

_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
WEEK_MINUTES = 7 * 24 * 60


def _cron_values(field_: str, low: int, high: int, names: dict[str, int] | None = None) -> list[int]:
    def number(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise ValueError(f"cannot read {token!r}")
        return int(token)

    values: set[int] = set()
    for part in field_.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            start, end = (number(x) for x in part.split("-", 1))
        else:
            start = end = number(part)
            if step != 1:
                end = high
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return sorted(values)


def cron_week_minutes(expression: str) -> list[int]:
    """Minutes of the week (Monday 00:00 = 0) at which an Application Auto Scaling cron fires.

    Supports ``cron(minutes hours day-of-month month day-of-week year)`` with ``*``/``?`` for
    day-of-month, month and year (a weekly pattern); anything else raises ValueError.
    """
    match = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if not match:
        raise ValueError(f"{expression!r} is not a cron() expression")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r}: expected 6 fields")
    minutes, hours, dom, month, dow, year = fields
    if dom not in ("*", "?") or month != "*" or year != "*":
        raise ValueError(f"{expression!r}: only weekly patterns (day-of-month, month, year = * or ?)")
    days = _cron_values(dow, 1, 7, _DAYS)  # AWS: 1 = Sunday
    result = []
    for day in days:
        monday_based = (day - 2) % 7
        for hour in _cron_values(hours, 0, 23):
            for minute in _cron_values(minutes, 0, 59):
                result.append(monday_based * 1440 + hour * 60 + minute)
    return sorted(result)


def schedule_regimes(actions: list[tuple[str, list[int]]]) -> dict[str, int]:
    """Minutes per week each action is the one in force (the last to have fired, wrapping the week)."""
    events = sorted((minute, index) for index, (_, minutes) in enumerate(actions) for minute in minutes)
    if not events:
        raise ValueError("no scheduled action ever fires")
    result: dict[str, int] = {name: 0 for name, _ in actions}
    for position, (minute, index) in enumerate(events):
        following = events[(position + 1) % len(events)][0]
        span = (following - minute) % WEEK_MINUTES
        if len(events) == 1:
            span = WEEK_MINUTES
        result[actions[index][0]] += span
    return result


@dataclass
class TaskHours:
    """A service's tasks over the month: (task count, hours) segments, and how they were worked out."""

    segments: list[tuple[float, float]]
    explanation: str

    @property
    def hours(self) -> float:
        return sum(count * hours for count, hours in self.segments)


def service_task_hours(
    stack: Stack, service_name: str, body: dict[str, Any], hours_per_month: float, notes: list[str]
) -> TaskHours:
    desired = int(body.get("desired_count") if body.get("desired_count") is not None else 1)
    literal_name = body.get("name", service_name)
    targets = [
        (name, target)
        for name, target in stack.resources("aws_appautoscaling_target").items()
        if target.get("service_namespace") == "ecs"
        and str(target.get("resource_id", "")).endswith("/" + str(literal_name))
    ]
    if not targets:
        return TaskHours(
            [(desired, hours_per_month)], f"{desired} task(s) x {hours_per_month:g} h (no scaling target)"
        )
    target_name, target = targets[0]
    low, high = int(target.get("min_capacity", desired)), int(target.get("max_capacity", desired))
    actions = []
    for action_name, action in stack.resources("aws_appautoscaling_scheduled_action").items():
        refers = stack.refers_to(action.get("resource_id"), "aws_appautoscaling_target", target_name)
        if refers or action.get("resource_id") == target.get("resource_id"):
            actions.append((action_name, action))
    bounded = min(max(desired, low), high)
    if not actions:
        return TaskHours(
            [(bounded, hours_per_month)],
            f"{bounded} task(s) x {hours_per_month:g} h (desired {desired} within {low}..{high})",
        )
    try:
        weekly = schedule_regimes([(n, cron_week_minutes(a["schedule"])) for n, a in actions])
    except (KeyError, ValueError) as exc:
        notes.append(f"aws_ecs_service.{service_name}: schedule not understood ({exc}); priced without it")
        return TaskHours(
            [(bounded, hours_per_month)], f"{bounded} task(s) x {hours_per_month:g} h (schedule ignored)"
        )

    def bounds(action: dict[str, Any]) -> tuple[int, int]:
        limits = nested_block(action.get("scalable_target_action"))
        return int(limits.get("min_capacity", low)), int(limits.get("max_capacity", high))

    working = max(actions, key=lambda pair: bounds(pair[1]))[0]
    segments, parts = [], []
    for name, action in actions:
        minimum, maximum = bounds(action)
        count = min(max(desired, minimum), maximum) if name == working else minimum
        hours = weekly[name] / WEEK_MINUTES * hours_per_month
        segments.append((count, hours))
        label = "working" if name == working else "off-hours"
        parts.append(
            f"{count} x {hours:.1f} h {label} ({weekly[name] / 60:g} h/week, {action.get('schedule')})"
        )
    return TaskHours(segments, " + ".join(parts))


def strategy_split(strategy: list[dict[str, Any]], tasks: float) -> dict[str, float]:
    """Expected tasks per capacity provider: the base first, the rest by weight."""
    if not strategy:
        return {"FARGATE": tasks}
    split = {item["capacity_provider"]: 0.0 for item in strategy}
    remaining = tasks
    for item in strategy:
        base = min(float(item.get("base", 0) or 0), remaining)
        split[item["capacity_provider"]] += base
        remaining -= base
    weights = sum(float(item.get("weight", 0) or 0) for item in strategy)
    if remaining > 0 and weights > 0:
        for item in strategy:
            split[item["capacity_provider"]] += remaining * float(item.get("weight", 0) or 0) / weights
    return split
