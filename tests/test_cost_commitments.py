"""``python -m tools.cost --commitments``: the options with 1- and 3-year reservations and a Compute
Savings Plan, computed by hand from the committed prices below (pinned to pricing/prices.json)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.test_cost import FIXTURES, SEOUL, H, one, priced, run
from tools.cost import load_prices
from tools.cost.commitments import TERMS, covered_lines, price_commitments

# ap-northeast-2 committed prices (USD, All Upfront amortised) the expectations use.
COMMITTED = {
    "reserved_1y:rds_instance_hour:postgres:db.t3.micro": 0.0168,
    "reserved_3y:rds_instance_hour:postgres:db.t3.micro": 0.0112,
    "reserved_1y:rds_instance_hour:postgres:db.t3.small": 0.0336,
    "reserved_3y:rds_instance_hour:postgres:db.t3.small": 0.0224,
    "reserved_1y:elasticache_node_hour:redis:cache.t3.micro": 0.015,
    "reserved_3y:elasticache_node_hour:redis:cache.t3.micro": 0.01,
    "reserved_1y:ec2_instance_hour:t3.small": 0.0156,
    "reserved_3y:ec2_instance_hour:t3.small": 0.0104,
    "savings_plan_1y:fargate_vcpu_hour": 0.0339888,
    "savings_plan_3y:fargate_vcpu_hour": 0.0223488,
    "savings_plan_1y:fargate_gb_hour": 0.0037303,
    "savings_plan_3y:fargate_gb_hour": 0.0024528,
}
C = COMMITTED


def test_committed_prices_used_here_are_in_the_prices_file_and_unconfirmed():
    table = load_prices()["regions"]["ap-northeast-2"]["prices"]
    assert {key: table[key]["usd"] for key in COMMITTED} == COMMITTED
    # None was read off AWS here: each says so, and how to confirm it.
    for key in COMMITTED:
        assert table[key]["status"] == "unconfirmed" and "Confirm with: aws " in table[key]["evidence"]
        assert "All Upfront" in table[key]["unit"]
        assert table[key]["usd"] < table[key.split(":", 1)[1]]["usd"]  # cheaper than on demand


DB, CACHE, HOST = (
    "rds_instance_hour:postgres:db.t3.micro",
    "elasticache_node_hour:redis:cache.t3.micro",
    "ec2_instance_hour:t3.small",
)
# The default configuration's options: on-demand total (tests/test_cost.py) and the lines covered.
DEFAULT_OPTIONS = {
    "option 1 (Fargate)": (159.99, ("database", "cache", "task")),
    "option 2 (EC2)": (77.24, ("database", "cache", "host")),
    "both side by side": (191.63, ("database", "cache", "task", "host")),
}


def saved(term: str) -> dict[str, float]:
    """What each covered line of the default configuration saves a month under ``term``."""
    return {
        "database": H * (SEOUL[DB] - C[f"reserved_{term}:{DB}"]),
        "cache": H * (SEOUL[CACHE] - C[f"reserved_{term}:{CACHE}"]),
        "host": H * (SEOUL[HOST] - C[f"reserved_{term}:{HOST}"]),
        # one task of 0.5 vCPU and 1 GB all month
        "task": 0.5 * H * (SEOUL["fargate_vcpu_hour"] - C[f"savings_plan_{term}:fargate_vcpu_hour"])
        + 1 * H * (SEOUL["fargate_gb_hour"] - C[f"savings_plan_{term}:fargate_gb_hour"]),
    }


def test_default_configuration_with_commitments(default):
    report = json.loads(run(default.outdir, "--commitments", "--format", "json")[1])["commitments"]
    assert report["terms"] == {"1y": "1-year", "3y": "3-year"} and "All Upfront" in report["payment"]
    options = {o["name"]: o for o in report["options"]}
    for name, (on_demand, covered) in DEFAULT_OPTIONS.items():
        option = options[name]
        assert option["on_demand"] == on_demand, name
        # on_demand is rounded to the cent: the hand computation agrees to within that.
        totals = {term: on_demand - sum(saved(term)[line] for line in covered) for term in TERMS}
        assert option["totals"] == pytest.approx(totals, abs=0.011), name
        assert option["without_commitment_price"] == {"1y": 0, "3y": 0}
    # The figures the report prints.
    assert {name: tuple(o["totals"].values()) for name, o in options.items()} == {
        "option 1 (Fargate)": (138.92, 126.00),
        "option 2 (EC2)": (54.17, 42.63),
        "both side by side": (162.97, 146.25),
    }
    covered = {(line["stack"], line["price_key"]) for line in options["both side by side"]["lines"]}
    assert covered == {
        ("homu-data", "rds_instance_hour:postgres:db.t3.micro"),
        ("homu-data", "elasticache_node_hour:redis:cache.t3.micro"),
        ("homu-ec2", "ec2_instance_hour:t3.small"),
        ("homu-fargate", "fargate_vcpu_hour"),
        ("homu-fargate", "fargate_gb_hour"),
    }


def test_every_format_shows_the_totals_and_marks_unconfirmed_prices(default):
    code, text = run(default.outdir, "--commitments")
    assert code == 0
    assert "== commitments: All Upfront, amortised over the term" in text
    assert (
        "option 1 (Fargate): on-demand 159.99, 1-year 138.92 * (-21.07), 3-year 126.00 * (-33.99) USD/month"
        in text
    )
    # 730 h x 0.0168 = 12.26 and x 0.0112 = 8.18, starred: the reserved prices are unconfirmed.
    section = text.split("== commitments")[1]
    database = next(line for line in section.splitlines() if "RDS postgres db.t3.micro hours" in line)
    assert database.split()[-5:] == ["20.44", "12.26", "*", "8.18", "*"]
    markdown = run(default.outdir, "--commitments", "--format", "markdown")[1]
    assert "## Monthly cost with commitments" in markdown
    assert "| option 2 (EC2) | 77.24 | **54.17 * (-23.07)** | **42.63 * (-34.60)** |" in markdown
    assert "| EC2 t3.small hours (Linux) | 18.98 | 11.39 * | 7.59 * |" in markdown
    # Without the flag, nothing changes: the docs/costs-*.md pages stay what they are.
    assert "commitment" not in run(default.outdir, "--format", "markdown")[1].lower()
    assert "commitments" not in json.loads(run(default.outdir, "--format", "json")[1])


def test_a_class_without_a_committed_price_is_reported_never_priced_as_committed(default, tmp_path):
    """db.t4g.micro has an on-demand price but no reserved one: the line says so, the committed totals
    keep it at on-demand and count it, and it is never given a price it does not have."""
    stacks = tmp_path / "stacks"
    shutil.copytree(default.outdir / "stacks", stacks, symlinks=True)
    config_path = stacks / "homu-data" / "cdk.tf.json"
    config = json.loads(config_path.read_text())
    (db,) = config["resource"]["aws_db_instance"].values()
    db["instance_class"] = "db.t4g.micro"
    config_path.write_text(json.dumps(config))
    option = {o.option.option.label: o for o in price_commitments(priced(stacks), load_prices())}[
        "option 2 (EC2)"
    ]
    (line,) = [c for c in option.lines if c.line.price_key.startswith("rds_instance_hour")]
    on_demand = H * 0.025  # db.t4g.micro on demand
    for term in TERMS:
        assert line.terms[term].unit_price is None and line.monthly(term) == pytest.approx(on_demand)
        assert option.without_price(term) == 1
    assert option.total("1y") == pytest.approx(option.on_demand - saved("1y")["cache"] - saved("1y")["host"])
    text = run(stacks, "--commitments")[1]
    assert "RDS postgres db.t4g.micro hours (Single-AZ)" in text and "no commitment price" in text
    assert "1 line(s) without a commitment price, at on-demand" in text
    markdown = run(stacks, "--commitments", "--format", "markdown")[1]
    assert "| 18.25 | no commitment price | no commitment price |" in markdown


def test_spot_is_not_covered_and_a_multi_az_standby_is(tmp_path):
    """No Savings Plan covers Fargate Spot; a Multi-AZ reservation costs two single-AZ ones."""
    prices = load_prices()
    spot = one(FIXTURES / "fargate-spot")
    assert {line.line.price_key for line in covered_lines(spot, prices)} == {
        "fargate_vcpu_hour",
        "fargate_gb_hour",
    }
    assert [line for line in spot.lines if "Spot" in line.item]  # there, but not covered
    (database,) = covered_lines(one(FIXTURES / "rds-multi-az"), prices)
    assert database.monthly("1y") == pytest.approx(2 * H * C[f"reserved_1y:{DB}"])
    # A fixture is none of the guide's options: nothing to total with commitments.
    assert "no option has a total" in run(FIXTURES / "mixed", "--commitments")[1]


def test_commitments_do_not_combine_with_compare(default, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(default.outdir, "--commitments", "--compare", default.outdir)
    assert exit_.value.code == 2 and "does not combine with --compare" in capsys.readouterr().err
