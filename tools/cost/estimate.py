"""A stack's monthly cost: every resource priced, free, or reported unpriced, none dropped."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools.cost.model import CostError, StackCost, Unpriced, UnpricedResource
from tools.cost.pricers import DATA_NOTES, FREE, PRICERS
from tools.cost.pricers.context import Context
from tools.cost.prices import PriceTable, price_table
from tools.tfjson import Stack, TerraformJsonError, find_stack_dirs, read_stack


def price_stack(stack: Stack, prices: dict[str, Any], assume: dict[str, float]) -> StackCost:
    """Raises TerraformJsonError when the stack names no literal region."""
    regions = stack.provider_regions()
    tables: dict[str, PriceTable] = {}

    def table(region: str) -> PriceTable:
        if region not in tables:
            tables[region] = price_table(prices, region, stack.name)
        return tables[region]

    report = StackCost(stack.name, stack.directory, regions[None])
    table(regions[None])
    resources = [(type_, name, body) for block, type_, name, body in stack.blocks() if block == "resource"]
    for type_, name, body in sorted(resources, key=lambda resource: resource[:2]):
        address = f"{type_}.{name}"
        if type_ in FREE:
            report.free[type_] = report.free.get(type_, 0) + 1
            continue
        pricer = PRICERS.get(type_)
        if pricer is None:
            report.unpriced.append(UnpricedResource(address, type_, "no price and not in the free list"))
            continue
        alias = str(body.get("provider", "aws")).partition(".")[2] or None
        region = regions.get(alias, regions[None])
        ctx = Context(stack, table(region), assume, report)
        try:
            report.lines.extend(pricer(ctx, name, body))
        except Unpriced as reason:
            report.unpriced.append(UnpricedResource(address, type_, str(reason)))
    for type_, note in sorted(DATA_NOTES.items()):
        report.notes.extend(f"data.{type_}.{name} {note}" for name in sorted(stack.data(type_)))
    return report


def price_dirs(dirs: Iterable[Path], prices: dict[str, Any], assume: dict[str, float]) -> list[StackCost]:
    """Every stack under ``dirs`` (see ``tools.tfjson.find_stack_dirs``), priced."""
    try:
        return [price_stack(read_stack(directory), prices, assume) for directory in find_stack_dirs(dirs)]
    except TerraformJsonError as error:
        raise CostError(str(error)) from None
