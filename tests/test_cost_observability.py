"""tools.cost on what the stacks watch with: each compute's dashboard, option 2's container logs."""

from __future__ import annotations

import pytest

from tools.cost import default_assumptions, load_prices, price_dirs

P = load_prices()["regions"]["ap-northeast-2"]["prices"]


def test_each_computes_dashboard_and_the_hosts_container_logs(default):
    reports = {r.name: r for r in price_dirs([default.outdir], load_prices(), default_assumptions())}
    for name in ("homu-fargate", "homu-ec2"):
        (dashboard,) = [
            line for line in reports[name].lines if line.address.startswith("aws_cloudwatch_dashboard.")
        ]
        # $3 in full: the account's three free dashboards are a per-account free tier (NOT_PRICED).
        assert (dashboard.quantity, dashboard.monthly) == (
            1,
            3.0,
        ) and "first three are free" in dashboard.item
    ingestion = next(
        line for line in reports["homu-ec2"].lines if line.item.startswith("log ingestion /ec2/")
    )
    # The containers write through the awslogs driver the user data configures: an app's volume, not 0.1 GB.
    assert ingestion.item == "log ingestion /ec2/homu-backend (EC2 host's container logs, 1 GB)"
    assert ingestion.monthly == pytest.approx(P["logs_ingest_gb"]["usd"])
