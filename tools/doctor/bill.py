"""The guide's "the bill is too high": the option deployed, priced by the project's offline cost tool
(``tools/cost``: the synthesized stacks against ``pricing/prices.json``), its largest lines and the
settings that lower them.

Why not Cost Explorer: it needs ``ce:GetCostAndUsage`` (billed per request, and absent from most
read-only roles), lags a day, and says what was spent, not which setting spends it; the offline
report names the resource and the setting, and it works on the emulator as on AWS.
"""

from __future__ import annotations

from pathlib import Path

from modules.names import DATA_STACK, FARGATE_STACK
from modules.settings import Settings
from tools.cost.assumptions import parse_assumptions
from tools.cost.estimate import price_dirs
from tools.cost.model import CostError, Line
from tools.cost.options import price_options
from tools.cost.prices import DEFAULT_PRICES, load_prices
from tools.cost.render.cells import guide_text, money
from tools.doctor.model import Check, ok, unchecked

AREA = "bill"
LARGEST = 5


def _smallest(kind: str) -> bool:
    """A burstable micro or small size: a smaller one is no saving worth suggesting."""
    return kind.rsplit(".", 1)[-1] in ("micro", "small")


def _saving(line: Line, s: Settings) -> str | None:
    """The setting that lowers this line, when it is not already at its cheapest."""
    key, kind = line.price_key, line.address.split(".")[0]
    if key.startswith("nat_gateway") and s.nat_gateways != "none":
        return 'nat_gateways "none" (HOMU_NAT_GATEWAYS=none): the tasks take public IPs instead of a NAT gateway and its address (docs/costs.md)'
    if key.startswith("cloudwatch_metric") and kind == "aws_ecs_cluster" and s.container_insights:
        return "container_insights false (HOMU_CONTAINER_INSIGHTS=false): the alarms read the free AWS/ECS metrics"
    if key.startswith("cloudwatch_metric") and kind == "aws_instance" and s.ec2_detailed_monitoring:
        return "ec2_detailed_monitoring false (HOMU_EC2_DETAILED_MONITORING=false): 5-minute metrics instead of 1"
    if key.startswith("fargate_"):
        ways = []
        if s.fargate_spot_percent < 100:
            ways.append(
                f"fargate_spot_percent (now {s.fargate_spot_percent}; Spot is up to 70 % cheaper, tasks may be interrupted)"
            )
        if not s.off_hours_scale_in:
            ways.append("off_hours_scale_in true (fewer tasks nights and weekends)")
        return "; ".join(ways) or None
    if key.startswith("rds_instance_hour"):
        if "Multi-AZ" in line.item and not s.is_production:
            return "db_multi_az false outside production (HOMU_DB_MULTI_AZ=false)"
        return None if _smallest(s.db_instance_class) else f"db_instance_class (now {s.db_instance_class})"
    if key.startswith("rds_enhanced_monitoring") and s.db_monitoring_interval:
        return "db_monitoring_interval 0 (HOMU_DB_MONITORING_INTERVAL=0): no enhanced monitoring"
    if key.startswith("elasticache_node_hour"):
        if (s.redis_num_cache_clusters or 1) > 1 and not s.is_production:
            return "redis_num_cache_clusters 1 outside production (HOMU_REDIS_NUM_CACHE_CLUSTERS=1)"
        return None if _smallest(s.redis_node_type) else f"redis_node_type (now {s.redis_node_type})"
    if key.startswith("ec2_instance_hour"):
        return None if _smallest(s.ec2_instance_type) else f"ec2_instance_type (now {s.ec2_instance_type})"
    if key.startswith("waf_") and s.waf:
        return "waf false (HOMU_WAF=false) outside production"
    return None


def bill_checks(outdir: Path, settings: Settings, computes: list[str]) -> list[Check]:
    """One line for the option the deployed computes make, from the synthesized ``outdir``."""
    stacks = [DATA_STACK, *computes]
    label = (
        "both side by side"
        if len(computes) == 2
        else "option 1 (Fargate)"
        if computes == [FARGATE_STACK]
        else "option 2 (EC2)"
    )
    stack = computes[0] if len(computes) == 1 else ""
    title = "the monthly bill, and the settings that lower it"
    try:
        reports = price_dirs(
            [outdir / "stacks" / name for name in stacks], load_prices(DEFAULT_PRICES), parse_assumptions([])
        )
    except CostError as error:
        return [unchecked(stack, AREA, title, f"the cost tool could not price the synthesis: {error}")]
    option = next((o for o in price_options(reports)[0] if o.option.label == label), None)
    if option is None:
        return [unchecked(stack, AREA, title, f"{label}: the synthesis lacks one of {', '.join(stacks)}")]
    lines = sorted((ln for r in option.reports for ln in r.lines), key=lambda ln: -ln.monthly)[:LARGEST]
    notes = [f"${money(ln.monthly)}  {ln.item}  ({ln.address})" for ln in lines]
    savings = {}
    for line in lines:
        if (saving := _saving(line, settings)) is not None:
            savings[saving] = savings.get(saving, 0.0) + line.monthly
    notes += [f"lower it: {saving} (up to ${money(amount)} a month)" for saving, amount in savings.items()]
    unpriced = f", {option.unpriced} resource(s) unpriced" if option.unpriced else ""
    return [
        ok(
            stack,
            AREA,
            title,
            f"{label}: ${money(option.total)} a month by pricing/prices.json{unpriced}; {guide_text(option)} "
            "(priced from the settings' synthesis, not the account's bill)",
            notes,
        )
    ]


def bill_unchecked(computes: list[str], why: str) -> list[Check]:
    stack = computes[0] if len(computes) == 1 else ""
    return [unchecked(stack, AREA, "the monthly bill, and the settings that lower it", why)]
