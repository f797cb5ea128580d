"""tools.cost: hand-computed fixtures, the real configurations, strictness, markdown, compare.

The fixtures under tests/fixtures/cost/ are small Terraform JSON stacks. Their expected totals are
written out below with the Seoul prices they use (``SEOUL``), which ``test_seoul_prices_used_here``
pins to pricing/prices.json: after a price refresh, update that dict and every expectation follows.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tools.cost import CostError, Line, StackCost, compare, default_assumptions, load_prices, price_dirs
from tools.cost.__main__ import main
from tools.cost.options import price_options
from tools.cost.pricers import FREE, PRICERS
from tools.cost.render import render_markdown, render_text
from tools.cost.render.cells import money
from tools.cost.schedule import cron_week_minutes, schedule_regimes, strategy_split

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cost"
PRICES = ROOT / "pricing" / "prices.json"

H = 730  # hours per month
# ap-northeast-2 unit prices (USD) the expectations use.
SEOUL = {
    "fargate_vcpu_hour": 0.04656,
    "fargate_gb_hour": 0.00511,
    "fargate_spot_discount": 0.70,
    "alb_hour": 0.0225,
    "alb_lcu_hour": 0.008,
    "nat_gateway_hour": 0.059,
    "nat_gateway_gb": 0.059,
    "public_ipv4_hour": 0.005,
    "rds_instance_hour:postgres:db.t3.micro": 0.028,
    "rds_storage_gb_month:gp3": 0.131,
    "rds_backup_gb_month": 0.095,
    "elasticache_node_hour:redis:cache.t3.micro": 0.025,
    "ec2_instance_hour:t3.small": 0.026,
    "ebs_gb_month:gp3": 0.0912,
    "cloudwatch_metric_month": 0.30,
    "cloudwatch_alarm_month": 0.10,
    "cloudwatch_alarm_high_resolution_month": 0.30,
    "logs_ingest_gb": 0.76,
    "logs_storage_gb_month": 0.0314,
    "secret_month": 0.40,
    "kms_key_month": 1.00,
    "route53_hosted_zone_month": 0.50,
    "s3_standard_gb_month": 0.025,
    "ecr_storage_gb_month": 0.10,
}
P = SEOUL
# Fargate 0.5 vCPU / 1 GB for one hour: 0.5 x 0.04656 + 1 x 0.00511 = 0.02839
TASK_512_1024 = 0.5 * P["fargate_vcpu_hour"] + 1 * P["fargate_gb_hour"]


def run(*args: str | Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main([str(a) for a in args], stdout=out)
    return code, out.getvalue()


def priced(path: Path, **assume: float) -> list:
    return price_dirs([path], load_prices(), default_assumptions() | assume)


def one(path: Path):
    (report,) = priced(path)
    return report


def copy_fixture(name: str, tmp_path: Path, edit=None) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    if edit:
        config = json.loads((target / "cdk.tf.json").read_text())
        edit(config)
        (target / "cdk.tf.json").write_text(json.dumps(config))
    return target


# --- the prices file ------------------------------------------------------------------------------


def test_seoul_prices_used_here():
    table = load_prices()["regions"]["ap-northeast-2"]["prices"]
    assert {key: table[key]["usd"] for key in SEOUL} == SEOUL


def test_every_price_has_unit_source_date_and_status():
    data = load_prices()
    statuses = set(data["statuses"])
    assert {"ap-northeast-2", "us-east-1"} <= set(data["regions"])
    for region, table in data["regions"].items():
        for key, entry in table["prices"].items():
            where = f"{region} {key}"
            assert isinstance(entry["usd"], (int, float)) and entry["usd"] >= 0, where
            assert entry["unit"].strip(), where
            assert re.fullmatch(
                r"https://aws\.amazon\.com/([a-z0-9-]+/)+pricing/([a-z-]+/)?", entry["source"]
            ), where
            date.fromisoformat(entry["taken"])
            assert entry["as_of"], where
            assert entry["status"] in statuses, where
            assert len(entry["evidence"]) > 20, where


# --- one resource each, hand-computed -------------------------------------------------------------


def test_one_nat_gateway():
    report = one(FIXTURES / "nat-gateway")
    # 730 h x $0.059 + 10 GB (assumed) x $0.059 = 43.07 + 0.59
    expected = H * P["nat_gateway_hour"] + 10 * P["nat_gateway_gb"]
    assert report.total == pytest.approx(expected) == pytest.approx(43.66)
    assert report.unpriced == [] and report.region == "ap-northeast-2"


def test_one_multi_az_db_t3_micro_with_20_gb():
    report = one(FIXTURES / "rds-multi-az")
    instance = (
        2 * H * P["rds_instance_hour:postgres:db.t3.micro"]
    )  # primary + standby: 2 x 730 x 0.028 = 40.88
    storage = 2 * 20 * P["rds_storage_gb_month:gp3"]  # both copies: 40 GB x 0.131 = 5.24
    backups = 20 * 0.02 * 7 * P["rds_backup_gb_month"]  # 2 %/day x 7 days of 20 GB beyond the free 20 GB
    assert report.total == pytest.approx(instance + storage + backups) == pytest.approx(46.386)
    assert {line.item.split(" (")[0] for line in report.lines} >= {"RDS postgres db.t3.micro hours"}


def test_fargate_512_1024_two_tasks_half_on_spot():
    report = one(FIXTURES / "fargate-spot")
    ondemand = 1 * H * TASK_512_1024  # weights 1:1, base 0: one task on FARGATE = 20.72
    spot = 1 * H * TASK_512_1024 * (1 - P["fargate_spot_discount"])  # one on FARGATE_SPOT at 30 % = 6.22
    assert report.total == pytest.approx(ondemand + spot) == pytest.approx(26.942, abs=0.001)
    spot_vcpu = next(line for line in report.lines if line.item.startswith("Fargate Spot x86 vCPU"))
    assert spot_vcpu.quantity == pytest.approx(0.5 * H)
    assert spot_vcpu.unit_price == pytest.approx(0.04656 * 0.3)


def test_scheduled_scale_in():
    report = one(FIXTURES / "fargate-schedule")
    # Weekdays 08:00-20:00 = 60 of the week's 168 hours at desired 2 (within 2..6), the other 108 at the
    # off-hours minimum 1 (Friday 20:00 to Monday 08:00 included).
    working, off = H * 60 / 168, H * 108 / 168  # 260.71 h, 469.29 h
    task_hours = 2 * working + 1 * off  # 990.71
    assert report.total == pytest.approx(task_hours * TASK_512_1024) == pytest.approx(28.126, abs=0.001)
    assert any("990.7 task-h" in note for note in report.notes)


def test_ec2_host_with_elastic_ip_counts_one_address():
    report = one(FIXTURES / "ec2-host")
    expected = (
        H * P["ec2_instance_hour:t3.small"]  # 18.98
        + 20 * P["ebs_gb_month:gp3"]  # 20 GB gp3 root: 1.824
        + 7 * P["cloudwatch_metric_month"]  # detailed monitoring, 7 metrics: 2.10
        + H * P["public_ipv4_hour"]  # the Elastic IP only; the auto-assigned address is released: 3.65
    )
    assert report.total == pytest.approx(expected) == pytest.approx(26.554)
    addresses = [line.address for line in report.lines if line.unit == "IPv4-h"]
    assert addresses == ["aws_eip.host"]


def test_ec2_host_without_elastic_ip_pays_for_its_auto_assigned_address(tmp_path):
    path = copy_fixture("ec2-host", tmp_path, lambda c: c["resource"].pop("aws_eip"))
    report = one(path)
    assert [line.address for line in report.lines if line.unit == "IPv4-h"] == ["aws_instance.host"]
    assert report.total == pytest.approx(26.554)


def test_root_volume_without_a_type_is_not_guessed(tmp_path):
    def untyped(config):
        del config["resource"]["aws_instance"]["host"]["root_block_device"]["volume_type"]

    report = one(copy_fixture("ec2-host", tmp_path, untyped))
    (unpriced,) = report.unpriced  # the AMI decides (usually gp2), which has no price here
    assert unpriced.address == "aws_instance.host" and "ebs_gb_month:gp2" in unpriced.reason


def test_mixed_stack():
    report = one(FIXTURES / "mixed")
    expected = {
        "aws_eip.nat": H * P["public_ipv4_hour"],  # 3.65
        "aws_nat_gateway.nat": H * P["nat_gateway_hour"] + 10 * P["nat_gateway_gb"],  # 43.66
        "aws_lb.alb": H * P["alb_hour"]
        + H * 1 * P["alb_lcu_hour"]
        + 2 * H * P["public_ipv4_hour"],  # 1 LCU, 2 AZs
        # 0.25 vCPU / 0.5 GB, one task all month: (0.25 x 0.04656 + 0.5 x 0.00511) x 730 = 10.36
        "aws_ecs_service.app": H * (0.25 * P["fargate_vcpu_hour"] + 0.5 * P["fargate_gb_hour"]),
        # written to by the task definition: 1 GB ingested, 30 days kept
        "aws_cloudwatch_log_group.app": 1 * P["logs_ingest_gb"]
        + 1 * 30 / (365 / 12) * P["logs_storage_gb_month"],
        "aws_secretsmanager_secret.db-url": P["secret_month"],
        "aws_secretsmanager_secret.secret-key": P["secret_month"],
        "aws_cloudwatch_metric_alarm.cpu": P["cloudwatch_alarm_month"],  # period 300
        "aws_cloudwatch_metric_alarm.memory": P["cloudwatch_alarm_month"],  # period 60
        "aws_cloudwatch_metric_alarm.fast": P["cloudwatch_alarm_high_resolution_month"],  # period 10
        "aws_route53_zone.zone": P["route53_hosted_zone_month"],  # created here, so billed here
        "aws_kms_key.key": P["kms_key_month"],
        "aws_s3_bucket.logs": 1 * P["s3_standard_gb_month"],
        "aws_ecr_repository.repo": 1 * P["ecr_storage_gb_month"],
        "aws_elasticache_replication_group.cache": H * P["elasticache_node_hour:redis:cache.t3.micro"],
    }
    by_address: dict[str, float] = {}
    for line in report.lines:
        by_address[line.address] = by_address.get(line.address, 0.0) + line.monthly
    assert by_address == pytest.approx(expected)
    assert report.total == pytest.approx(sum(expected.values())) == pytest.approx(109.203, abs=0.001)
    # Container Insights off, standard SSM parameter: priced types with nothing to pay.
    assert "aws_ecs_cluster.main" not in by_address and "aws_ssm_parameter.tag" not in by_address
    assert report.free == {
        "aws_vpc": 1,
        "aws_subnet": 2,
        "aws_internet_gateway": 1,
        "aws_security_group": 1,
        "aws_iam_role": 1,
        "aws_lb_target_group": 1,
        "aws_lb_listener": 1,
        "aws_ecs_task_definition": 1,
        "aws_secretsmanager_secret_version": 1,
    }
    assert report.unpriced == []


def test_region_picks_its_price_table(tmp_path):
    def to_virginia(config):
        config["provider"]["aws"][0]["region"] = "us-east-1"

    report = one(copy_fixture("nat-gateway", tmp_path, to_virginia))
    assert report.total == pytest.approx(730 * 0.045 + 10 * 0.045)  # us-east-1 NAT: $0.045/h and /GB


def test_region_without_prices_is_an_error_naming_it(tmp_path, capsys):
    def to_ireland(config):
        config["provider"]["aws"][0]["region"] = "eu-west-1"

    path = copy_fixture("nat-gateway", tmp_path, to_ireland)
    with pytest.raises(CostError, match=r"region eu-west-1 has no price table.*ap-northeast-2, us-east-1"):
        priced(path)
    assert run(path)[0] == 2
    assert "error: stack nat-gateway: region eu-west-1 has no price table" in capsys.readouterr().err


def test_assumptions_can_be_changed_on_the_command_line():
    code, out = run("--assume", "nat_gb_per_gateway=100", "--format", "json", FIXTURES / "nat-gateway")
    assert code == 0
    assert json.loads(out)["stacks"][0]["total"] == pytest.approx(round(730 * 0.059 + 100 * 0.059, 2))
    assert run("--assume", "nat_gb=1", FIXTURES / "nat-gateway")[0] == 2


# --- schedule and capacity providers --------------------------------------------------------------


def test_cron_weekday_evenings():
    minutes = cron_week_minutes("cron(0 20 ? * MON-FRI *)")
    assert minutes == [day * 1440 + 20 * 60 for day in range(5)]  # Monday..Friday 20:00
    assert cron_week_minutes("cron(30 7 ? * SUN,SAT *)") == [5 * 1440 + 450, 6 * 1440 + 450]


def test_schedule_regimes_split_the_week():
    off, on = cron_week_minutes("cron(0 20 ? * MON-FRI *)"), cron_week_minutes("cron(0 8 ? * MON-FRI *)")
    assert schedule_regimes([("off", off), ("on", on)]) == {"off": 108 * 60, "on": 60 * 60}
    weekend, week = cron_week_minutes("cron(0 0 ? * SAT *)"), cron_week_minutes("cron(0 0 ? * MON *)")
    assert schedule_regimes([("weekend", weekend), ("week", week)]) == {"weekend": 48 * 60, "week": 120 * 60}


@pytest.mark.parametrize(
    "expression", ["rate(1 hour)", "cron(0 8 1 * ? *)", "cron(0 25 ? * MON *)", "cron(0 8 * *)"]
)
def test_unsupported_schedules_are_refused(expression):
    with pytest.raises(ValueError):
        cron_week_minutes(expression)


def test_a_schedule_not_understood_is_noted_not_dropped(tmp_path):
    def rate(config):
        config["resource"]["aws_appautoscaling_scheduled_action"]["off-hours"]["schedule"] = "rate(12 hours)"

    report = one(copy_fixture("fargate-schedule", tmp_path, rate))
    assert any("schedule not understood" in note for note in report.notes)
    assert report.total == pytest.approx(2 * H * TASK_512_1024)  # desired 2 within 2..6, all month


def test_capacity_provider_base_is_placed_before_the_weights():
    # The project's strategy for 50 % Spot: FARGATE weight 1 base 1, FARGATE_SPOT weight 1.
    strategy = [
        {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
        {"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0},
    ]
    assert strategy_split(strategy, 1) == {"FARGATE": 1, "FARGATE_SPOT": 0}
    assert strategy_split(strategy, 2) == {"FARGATE": 1.5, "FARGATE_SPOT": 0.5}
    assert strategy_split(strategy, 5) == {"FARGATE": 3, "FARGATE_SPOT": 2}


# --- unpriced resources ---------------------------------------------------------------------------


def _with_opensearch(config):
    config["resource"]["aws_opensearch_domain"] = {
        "search": {"domain_name": "search", "cluster_config": {"instance_type": "t3.small.search"}}
    }


def test_new_billable_type_is_reported_unpriced_and_counted(tmp_path):
    path = copy_fixture("mixed", tmp_path, _with_opensearch)
    report = one(path)
    assert [(u.address, u.type) for u in report.unpriced] == [
        ("aws_opensearch_domain.search", "aws_opensearch_domain")
    ]
    assert report.total == pytest.approx(one(FIXTURES / "mixed").total)  # not silently priced at zero
    code, out = run(path)
    assert code == 0
    assert "UNPRICED: 1 resource(s), not in the total:" in out
    assert "aws_opensearch_domain.search: no price and not in the free list" in out


def test_strict_fails_on_a_new_billable_type(tmp_path):
    path = copy_fixture("mixed", tmp_path, _with_opensearch)
    assert run("--strict", FIXTURES / "mixed")[0] == 0
    result = subprocess.run(
        [sys.executable, "-m", "tools.cost", "--strict", str(path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "error: 1 unpriced resource(s): aws_opensearch_domain" in result.stderr


def test_a_priced_type_in_an_unpriced_shape_is_reported(tmp_path):
    def bigger_class(config):
        config["resource"]["aws_db_instance"]["db"]["instance_class"] = "db.r7g.16xlarge"

    report = one(copy_fixture("rds-multi-az", tmp_path, bigger_class))
    assert report.lines == []
    assert "rds_instance_hour:postgres:db.r7g.16xlarge" in report.unpriced[0].reason


def test_every_type_is_either_priced_or_free():
    assert not set(PRICERS) & set(FREE)


# --- the real configurations ----------------------------------------------------------------------


def _accounted(synth) -> dict[str, object]:
    reports = {r.name: r for r in priced(synth.outdir)}
    assert set(reports) == set(synth.stacks)
    for name, report in reports.items():
        stack = synth.stacks[name]
        assert report.unpriced == [], f"{name}: {[(u.address, u.reason) for u in report.unpriced]}"
        addresses = {f"{t}.{n}" for t, items in stack.config.get("resource", {}).items() for n in items}
        counted = sum(report.free.values()) + len({a for a in addresses if a.split(".")[0] in PRICERS})
        assert counted == len(addresses)  # every resource is priced or free, none dropped
        assert {line.address for line in report.lines} <= addresses
    return reports


def _lines(report, type_: str, key: str):
    return [
        line
        for line in report.lines
        if line.address.startswith(type_ + ".") and line.price_key.startswith(key)
    ]


DATA_TIER = ("aws_db_instance", "aws_elasticache_replication_group", "aws_kms_key.secret-key")


@pytest.mark.parametrize("configuration", ["default", "production"])
def test_real_configuration_is_fully_priced(configuration, request):
    synth = request.getfixturevalue(configuration)
    settings = synth.settings
    reports = _accounted(synth)
    data, fargate, ec2 = reports["homu-data"], reports["homu-fargate"], reports["homu-ec2"]
    assert reports["homu-state"].total > 0
    # The data tier is priced once, in homu-data: database, cache, their secrets, its alarms.
    (db_hours,) = _lines(data, "aws_db_instance", "rds_instance_hour")
    assert db_hours.quantity == H * (2 if settings.db_multi_az else 1)
    assert db_hours.price_key == f"rds_instance_hour:postgres:{settings.db_instance_class}"
    (cache,) = _lines(data, "aws_elasticache_replication_group", "elasticache_node_hour")
    assert cache.quantity == H * settings.redis_num_cache_clusters
    # The one secret is RDS's own; SECRET_KEY's HMAC key is a KMS key like the data tier's own.
    (secret,) = [line for line in data.lines if line.price_key == "secret_month"]
    assert secret.address.startswith("aws_db_instance.")
    assert len(_lines(data, "aws_kms_key", "kms_key_month")) == 2
    for report in reports.values():
        assert len(_lines(report, "aws_cloudwatch_metric_alarm", "cloudwatch_alarm")) == len(
            synth[report.name].resources("aws_cloudwatch_metric_alarm")
        )
    # The point of the split: neither compute pays for the data tier again, and only Fargate has NATs.
    for report in (fargate, ec2):
        assert not [line for type_ in DATA_TIER for line in _lines(report, type_, "")], report.name
    assert len(_lines(fargate, "aws_nat_gateway", "nat_gateway_hour")) == settings.nat_gateway_count
    assert not _lines(ec2, "aws_nat_gateway", "") and not _lines(data, "aws_nat_gateway", "")
    assert len(_lines(fargate, "aws_eip", "public_ipv4_hour")) == settings.nat_gateway_count  # theirs
    assert len(_lines(fargate, "aws_lb", "alb_hour")) == 1
    # The ALB's subnets are homu-data's outputs: one public address per AZ, counted from there.
    (alb_addresses,) = _lines(fargate, "aws_lb", "public_ipv4_hour")
    assert alb_addresses.quantity == H * settings.availability_zones
    vcpu_hours = sum(line.quantity for line in _lines(fargate, "aws_ecs_service", "fargate_vcpu_hour"))
    desired = min(max(settings.desired_count, settings.min_capacity), settings.max_capacity)
    if settings.off_hours_scale_in:
        task_hours = desired * H * 60 / 168 + settings.off_hours_min_capacity * H * 108 / 168
    else:
        task_hours = desired * H
    assert vcpu_hours == pytest.approx(task_hours * settings.fargate_cpu / 1024)
    (instance,) = _lines(ec2, "aws_instance", "ec2_instance_hour")
    assert instance.price_key == f"ec2_instance_hour:{settings.ec2_instance_type}"
    assert len([line for line in ec2.lines if line.unit == "IPv4-h"]) == 1  # the Elastic IP, once
    for report in (fargate, ec2):  # says where its database and cache are priced
        assert any(note.startswith("data.terraform_remote_state.homu-data ") for note in report.notes)
    if settings.hosted_zone:  # looked up, not created: noted, never billed here
        assert any("looks up an existing hosted zone" in note for note in fargate.notes)
        assert not _lines(fargate, "aws_route53_zone", "")


def test_alb_subnets_from_a_stack_not_beside_it_are_unpriced_not_guessed(default, tmp_path):
    alone = tmp_path / "homu-fargate"
    shutil.copytree(default.outdir / "stacks" / "homu-fargate", alone)
    report = one(alone)
    (unpriced,) = report.unpriced
    assert unpriced.type == "aws_lb"
    assert "comes from stack homu-data, which is not synthesized beside this one" in unpriced.reason
    beside = one(default.outdir / "stacks" / "homu-fargate")
    assert report.total < beside.total and beside.unpriced == []


# --- the guide's options: data tier + compute -----------------------------------------------------


OPTION_STACKS = {
    "option 1 (Fargate)": (["homu-data", "homu-fargate"], [80, 120]),
    "option 2 (EC2)": (["homu-data", "homu-ec2"], [42, 47]),
    "both side by side": (["homu-data", "homu-fargate", "homu-ec2"], None),
}


@pytest.mark.parametrize("configuration", ["default", "production"])
def test_option_totals_are_their_stacks_totals(configuration, request):
    synth = request.getfixturevalue(configuration)
    report = json.loads(run(synth.outdir, "--format", "json")[1])
    assert all("guide" not in stack for stack in report["stacks"])  # the guide prices options, not stacks
    options = {option["name"]: option for option in report["options"]}
    assert {name: (o["stacks"], o["guide"]) for name, o in options.items()} == OPTION_STACKS
    assert report["untotalled"] == []
    totals = {r.name: r.total for r in priced(synth.outdir)}
    for name, option in options.items():
        assert option["total"] == round(sum(totals[stack] for stack in option["stacks"]), 2), name
        assert option["unpriced"] == 0
    # Both computes share one data tier: counted once. homu-state is in no option.
    both = options["both side by side"]["total"]
    option_1, option_2 = options["option 1 (Fargate)"]["total"], options["option 2 (EC2)"]["total"]
    assert both == pytest.approx(option_1 + option_2 - totals["homu-data"], abs=0.02)
    text = run(synth.outdir)[1]
    assert f"option 1 (Fargate) = homu-data + homu-fargate: {money(option_1)} USD/month; " in text
    assert text.count("guide estimate: $80-120/month (") == 1 and "guide estimate: none" in text
    summary = run(synth.outdir, "--format", "markdown")[1].split("\n### ")[0]  # what docs/costs.md quotes
    assert f"| option 2 (EC2) | `homu-data` + `homu-ec2` | **{money(option_2)}** | $42-47 (" in summary


def _stack(name: str, monthly: float):
    return StackCost(name, Path(name), "ap-northeast-2", [Line(name, "item", 1, "mo", monthly, "k")])


def test_option_compared_with_the_guide_range():
    out = render_text([_stack("homu-data", 30), _stack("homu-ec2", 15), _stack("homu-fargate", 100)], {})
    assert "homu-data + homu-ec2: 45.00 USD/month; guide estimate: $42-47/month (within it)\n" in out
    assert "homu-fargate: 130.00 USD/month; guide estimate: $80-120/month ($10.00 above it)\n" in out
    assert "homu-data + homu-fargate + homu-ec2: 145.00 USD/month; guide estimate: none\n" in out
    cheap = render_markdown([_stack("homu-data", 20), _stack("homu-ec2", 10)], {})
    assert "| option 2 (EC2) | `homu-data` + `homu-ec2` | **30.00** | $42-47 ($12.00 below it) | 0 |" in cheap
    assert "option 1" not in cheap  # homu-fargate not given: no line, no word


def test_option_lines_only_when_their_stacks_were_given(default, production):
    code, out = run("--format", "markdown", FIXTURES / "mixed", FIXTURES / "nat-gateway")
    assert code == 0 and "option" not in out.lower()  # none of the options' stacks: nothing to say
    stacks = default.outdir / "stacks"
    report = json.loads(run(*(stacks / n for n in ("homu-ec2", "homu-fargate")), "--format", "json")[1])
    assert report["options"] == []
    everything = ["option 1 (Fargate)", "option 2 (EC2)", "both side by side"]
    assert report["untotalled"] == [{"options": everything, "reason": "homu-data not given"}]
    out = run(stacks / "homu-data", stacks / "homu-ec2")[1]  # an EC2-only deployment, nothing missing
    assert "option 2 (EC2) = homu-data + homu-ec2: " in out and "option 1" not in out
    out = run(stacks / "homu-data")[1]
    assert "no total for option 1 (Fargate): homu-fargate not given\n" in out
    assert "no total for both side by side: homu-fargate, homu-ec2 not given\n" in out
    # Two configurations at once: summing one's data tier with the other's compute would mean nothing.
    out = run(default.outdir, production.outdir, "--format", "markdown")[1]
    assert "| option " not in out
    assert "No total for option 1 (Fargate): homu-data, homu-fargate given more than once." in out


def test_production_costs_more_than_default(default, production):
    before, after = priced(default.outdir), priced(production.outdir)
    # Multi-AZ database and a cache replica (homu-data); a NAT gateway per AZ, two tasks in working
    # hours and WAF (homu-fargate). The EC2 host is the same, but its option runs on the bigger data tier.
    stacks = {r.name: r.total for r in before}, {r.name: r.total for r in after}
    assert all(stacks[1][name] > stacks[0][name] for name in ("homu-data", "homu-fargate"))
    options = [{o.option.label: o.total for o in price_options(reports)[0]} for reports in (before, after)]
    assert len(options[0]) == 3 and all(options[1][label] > total for label, total in options[0].items())


def test_us_east_1_table_prices_the_default_configuration(default, tmp_path):
    target = tmp_path / "stacks"
    shutil.copytree(default.outdir / "stacks", target)
    for path in target.glob("*/cdk.tf.json"):
        path.write_text(path.read_text().replace('"ap-northeast-2"', '"us-east-1"'))
    reports = priced(target)
    assert {r.region for r in reports} == {"us-east-1"}
    assert all(r.unpriced == [] for r in reports), [
        (u.address, u.reason) for r in reports for u in r.unpriced
    ]
    seoul = {r.name: r.total for r in priced(default.outdir)}
    assert all(r.total < seoul[r.name] for r in reports if r.name != "homu-state")


def test_cli_strict_on_the_default_configuration_reads_json_only(default):
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['tools.cost', '--strict', {str(default.outdir)!r}]\n"
        "try:\n"
        "    runpy.run_module('tools.cost', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = ('cdktf', 'constructs', 'jsii', 'boto3', 'botocore')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "== homu-fargate (ap-northeast-2)" in result.stdout
    assert "guide estimate: $80-120/month" in result.stdout
    assert "Assumptions (all stacks):" in result.stdout
    assert result.stdout.count("hours_per_month = 730") == 1  # stated once, not per stack


# --- markdown and compare -------------------------------------------------------------------------


def test_markdown_table(default):
    code, out = run("--format", "markdown", FIXTURES / "mixed", default.outdir / "stacks" / "homu-fargate")
    assert code == 0
    assert out.startswith("## Monthly cost estimate\n")
    assert "| stack | region | monthly USD | unpriced |" in out
    assert "| `mixed` | ap-northeast-2 | **109.20** | 0 |" in out
    fargate_total = money(one(default.outdir / "stacks" / "homu-fargate").total)
    assert f"| `homu-fargate` | ap-northeast-2 | **{fargate_total}** | 0 |" in out
    # homu-fargate alone is not option 1: its database and cache are in homu-data, not given here.
    assert "No total for option 1 (Fargate): homu-data not given." in out and "| option " not in out
    assert "| resource | item | quantity | unit price USD | monthly USD |" in out
    assert "| `aws_nat_gateway.nat` | NAT gateway hours | 730 NAT-h | 0.059/NAT-h | 43.07 |" in out
    assert "| **total** | | | | **109.20** |" in out
    assert "<details><summary>assumptions</summary>" in out
    # every table row has the header's five cells
    rows = [line for line in out.splitlines() if line.startswith("| `aws_")]
    assert rows and all(line.count(" | ") == 4 for line in rows)


def test_compare_adds_a_nat_gateway(tmp_path):
    old = copy_fixture("nat-gateway", tmp_path / "old")
    nat_b = {"allocation_id": "eipalloc-0fedcba9876543210", "subnet_id": "subnet-0fedcba9876543210"}
    new = copy_fixture(
        "nat-gateway", tmp_path / "new", lambda c: c["resource"]["aws_nat_gateway"].update({"nat-b": nat_b})
    )
    code, out = run(new, "--compare", old)
    assert code == 0
    assert "== nat-gateway: 43.66 -> 87.32 USD/month (+43.66)" in out
    assert "+43.07  aws_nat_gateway.nat-b  NAT gateway hours: 0.00 -> 43.07" in out
    assert "+0.59  aws_nat_gateway.nat-b  NAT data processed (10 GB): 0.00 -> 0.59" in out
    assert "aws_nat_gateway.nat " not in out  # unchanged lines are not listed
    code, md = run(new, "--compare", old, "--format", "markdown")
    assert "| `nat-gateway` | 43.66 | 87.32 | **+43.66** |" in md
    assert "| `aws_nat_gateway.nat-b` | NAT gateway hours | 0.00 | 43.07 | +43.07 |" in md


def test_compare_default_with_production(default, production):
    deltas = {d.name: d for d in compare(priced(default.outdir), priced(production.outdir))}
    fargate, data = deltas["homu-fargate"], deltas["homu-data"]
    assert fargate.delta == pytest.approx(fargate.new_total - fargate.old_total)
    assert fargate.delta == pytest.approx(sum(change.delta for change in fargate.changed), abs=0.01)
    assert [c.address.split(".")[0] for c in fargate.changed].count("aws_nat_gateway") >= 1
    db = next(c for c in data.changed if c.address.startswith("aws_db_instance.") and "hours" in c.item)
    assert db.old_item.startswith(f"RDS postgres {default.settings.db_instance_class} hours")
    assert db.item.startswith(f"RDS postgres {production.settings.db_instance_class} hours")
    code, out = run(production.outdir, "--compare", default.outdir, "--format", "markdown")
    assert code == 0
    assert out.startswith("## Monthly cost change\n")
    assert (
        f"| `homu-fargate` | {money(fargate.old_total)} | {money(fargate.new_total)} | "
        f"**+{money(fargate.delta)}** |" in out
    )
    assert "### `homu-fargate`: lines that changed" in out
    assert "(was: RDS postgres " in out.split("### `homu-data`: lines that changed")[1].split("###")[0]


def test_missing_directory_is_an_error(tmp_path, capsys):
    assert run(tmp_path / "nothing-here")[0] == 2
    assert "no cdk.tf.json here" in capsys.readouterr().err
