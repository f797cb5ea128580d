"""The unit prices of ``pricing/prices.json``, one table per AWS region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.cost.model import CostError, Line, Unpriced

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PRICES = ROOT / "pricing" / "prices.json"


class PriceTable:
    """The prices of one region; ``get`` raises Unpriced for a missing key."""

    def __init__(self, region: str, entries: dict[str, dict[str, Any]]):
        self.region = region
        self.entries = entries

    def get(self, key: str) -> tuple[float, bool]:
        entry = self.entries.get(key)
        if entry is None:
            raise Unpriced(f"no price '{key}' for {self.region} in pricing/prices.json")
        return float(entry["usd"]), entry.get("status") in ("price-list", "page", "bill")

    def line(self, address: str, item: str, quantity: float, unit: str, key: str) -> Line:
        price, confirmed = self.get(key)
        return Line(address, item, quantity, unit, price, key, confirmed)


def load_prices(path: Path = DEFAULT_PRICES) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CostError(f"prices file {path}: {exc}") from None
    if not isinstance(data.get("regions"), dict) or not data["regions"]:
        raise CostError(f"prices file {path}: no 'regions' table")
    return data


def price_table(prices: dict[str, Any], region: str, stack: str) -> PriceTable:
    regions = prices["regions"]
    if region not in regions:
        raise CostError(
            f"stack {stack}: region {region} has no price table in pricing/prices.json "
            f"(tables: {', '.join(sorted(regions))})"
        )
    return PriceTable(region, regions[region]["prices"])
