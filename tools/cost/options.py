"""The guide's two options, and both computes side by side: which stacks each is, what the guide says.

A compute stack runs on ``homu-data``'s network, database and cache (``modules/stacks``), so the
guide's monthly estimates, made for a whole option, compare with data tier + compute and never with
one stack. ``homu-state`` is in no option: every option shares it, and it costs about a dollar.
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.names import DATA_STACK, EC2_STACK, FARGATE_STACK
from tools.cost.model import StackCost


@dataclass(frozen=True)
class Option:
    label: str
    stacks: tuple[str, ...]
    guide: tuple[float, float] | None = None  # the deployment guide's monthly USD range, if it gives one


OPTIONS: tuple[Option, ...] = (
    Option("option 1 (Fargate)", (DATA_STACK, FARGATE_STACK), (80.0, 120.0)),
    Option("option 2 (EC2)", (DATA_STACK, EC2_STACK), (42.0, 47.0)),
    # The guide suggests moving to EC2 to save money; during the move both computes share one data tier.
    Option("both side by side", (DATA_STACK, FARGATE_STACK, EC2_STACK)),
)


@dataclass
class OptionCost:
    option: Option
    reports: list[StackCost]  # one per stack of the option, in its order

    @property
    def total(self) -> float:
        return sum(report.total for report in self.reports)

    @property
    def unpriced(self) -> int:
        return sum(len(report.unpriced) for report in self.reports)


@dataclass
class Untotalled:
    """Options some of whose stacks were given but not all (or one twice): no total, and why."""

    labels: list[str]
    reason: str


def price_options(
    reports: list[StackCost], options: tuple[Option, ...] = OPTIONS
) -> tuple[list[OptionCost], list[Untotalled]]:
    """Each option whose stacks are all among ``reports``, once each, with its total; and, when none
    could be totalled, why, for the options some of whose stacks were given. Otherwise the rest is
    left out silently: homu-data + homu-ec2 is an EC2-only deployment, not a Fargate one missing a
    stack, and fixtures are none of the options."""
    by_name: dict[str, list[StackCost]] = {}
    for report in reports:
        by_name.setdefault(report.name, []).append(report)
    totalled: list[OptionCost] = []
    untotalled: dict[str, list[str]] = {}
    for option in options:
        found = {name: by_name.get(name, []) for name in option.stacks}
        if all(len(given) == 1 for given in found.values()):
            totalled.append(OptionCost(option, [given[0] for given in found.values()]))
        elif any(found.values()):
            # Two copies of a stack (two configurations at once) would be summed into nonsense.
            missing = [name for name, given in found.items() if not given]
            twice = [name for name, given in found.items() if len(given) > 1]
            reason = "; ".join(
                ([", ".join(missing) + " not given"] if missing else [])
                + ([", ".join(twice) + " given more than once"] if twice else [])
            )
            untotalled.setdefault(reason, []).append(option.label)
    if totalled:
        return totalled, []
    return [], [Untotalled(labels, reason) for reason, labels in untotalled.items()]
