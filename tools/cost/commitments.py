"""What the guide's options cost with commitments (``--commitments``): 1- and 3-year reserved RDS,
ElastiCache and EC2 instances and a Compute Savings Plan for Fargate, each applied to the lines it
covers; every other line stays at its on-demand price.

A covered line's committed price is its own price key with the commitment in front
(``reserved_1y:rds_instance_hour:postgres:db.t3.micro``) in the region's table of
``pricing/prices.json``. A covered line whose key has no committed price is reported as having none
and counted; the committed total keeps it at on-demand, never at a price it was not given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.cost.model import Line, StackCost, Unpriced
from tools.cost.options import OptionCost, price_options
from tools.cost.prices import price_table

TERMS = {"1y": "1-year", "3y": "3-year"}
PAYMENT = "All Upfront, amortised over the term (effective hourly = upfront payment / hours in the term)"
# Sized to the usage priced here: a reservation per instance or node, a Savings Plan commitment equal to
# the Fargate hours' committed cost. A smaller commitment leaves the rest of the usage at on-demand.
COVERAGE = (
    "each commitment covers every hour of the lines it applies to (RDS instance hours, a Multi-AZ "
    "standby included; ElastiCache node hours; EC2 instance hours; on-demand Fargate vCPU and GB hours, "
    "not Fargate Spot, which no Savings Plan covers); storage, addresses, logs and the rest stay on-demand"
)
# The first part of a price key -> the commitment that covers it.
COMMITMENTS = {
    "rds_instance_hour": "reserved",
    "elasticache_node_hour": "reserved",
    "ec2_instance_hour": "reserved",
    "fargate_vcpu_hour": "savings_plan",
    "fargate_gb_hour": "savings_plan",
    "fargate_arm_vcpu_hour": "savings_plan",
    "fargate_arm_gb_hour": "savings_plan",
}


@dataclass
class Committed:
    """A covered line under one term: its committed unit price, or None when the prices have none."""

    price_key: str
    unit_price: float | None
    confirmed: bool


@dataclass
class CoveredLine:
    stack: str
    line: Line
    terms: dict[str, Committed]  # by term ("1y", "3y")

    def monthly(self, term: str) -> float:
        """Without a committed price the line costs what it costs on demand."""
        price = self.terms[term].unit_price
        return self.line.monthly if price is None else self.line.quantity * price


@dataclass
class OptionCommitments:
    option: OptionCost
    lines: list[CoveredLine]

    @property
    def on_demand(self) -> float:
        return self.option.total

    def total(self, term: str) -> float:
        return self.on_demand + sum(line.monthly(term) - line.line.monthly for line in self.lines)

    def without_price(self, term: str) -> int:
        return sum(line.terms[term].unit_price is None for line in self.lines)

    def unconfirmed(self, term: str) -> bool:
        """Whether the total under ``term`` rests on a committed price not confirmed for the region."""
        return any(
            line.terms[term].unit_price is not None and not line.terms[term].confirmed for line in self.lines
        )


def covered_lines(report: StackCost, prices: dict[str, Any]) -> list[CoveredLine]:
    """The lines of ``report`` a commitment covers, each with its committed price per term."""
    table = price_table(prices, report.region, report.name)
    covered = []
    for line in report.lines:
        commitment = COMMITMENTS.get(line.price_key.split(":")[0])
        if commitment is None:
            continue
        terms = {}
        for term in TERMS:
            key = f"{commitment}_{term}:{line.price_key}"
            try:
                terms[term] = Committed(key, *table.get(key))
            except Unpriced:
                terms[term] = Committed(key, None, False)
        covered.append(CoveredLine(report.name, line, terms))
    return covered


def price_commitments(reports: list[StackCost], prices: dict[str, Any]) -> list[OptionCommitments]:
    """Each option ``price_options`` totals, with the lines commitments cover (the report says why the
    others have no total)."""
    return [
        OptionCommitments(
            option, [line for report in option.reports for line in covered_lines(report, prices)]
        )
        for option in price_options(reports)[0]
    ]
