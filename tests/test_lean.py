"""environments/lean.json: option 1 inside the guide's $80-120 by the project's own cost report, with
every security property of the default kept, and the settings that turn off the paid extras."""

from __future__ import annotations

import json
import shutil

import pytest

from modules.names import DATA_STACK, SKIP_KEY, STACKS
from tests.conftest import LEAN
from tests.synth import data_output
from tests.test_cost import priced, run
from tests.test_data_tier import group_ref, private_subnet_refs
from tests.test_encryption import key_arn
from tests.test_load_balancer import listeners
from tests.test_policies import failures, scan
from tests.test_security_groups import rules
from tests.test_terraform_validate import diagnostics, validate
from tools.tfjson import ref

# The scan exceptions lean's settings add, each on the resource whose check it excuses.
LEAN_EXCEPTIONS = {
    ("homu-fargate", "CKV_AWS_333"): "aws_ecs_service",  # tasks on public IPs (no NAT gateway)
    ("homu-fargate", "CKV_AWS_65"): "aws_ecs_cluster",  # Container Insights off
    ("homu-ec2", "CKV_AWS_126"): "aws_instance",  # detailed monitoring off
}


def exceptions(body: dict) -> dict[str, str]:
    """The scan exceptions written on a resource (modules/policy.py)."""
    return body["//"].get(SKIP_KEY, {})


def test_lean_is_its_own_environment_with_its_own_state():
    assert LEAN["environment"] == "lean" and LEAN["state_bucket"] == "homu-lean-terraform-state"


def test_option_1_is_inside_the_guides_range_by_the_cost_report(lean):
    options = {o["name"]: o["total"] for o in json.loads(run(lean.outdir, "--format", "json")[1])["options"]}
    assert options["option 1 (Fargate)"] == 104.85 and 80 <= options["option 1 (Fargate)"] <= 120
    assert options["option 2 (EC2)"] == 75.14
    reports = {r.name: r for r in priced(lean.outdir)}
    fargate = reports["homu-fargate"]
    # What lean stops paying for: the NAT gateway (hours, data, its address) and Container Insights.
    assert not {"nat_gateway_hour", "nat_gateway_gb", "cloudwatch_metric_month"} & {
        line.price_key for line in fargate.lines
    }
    assert not [line for line in fargate.lines if line.address.startswith("aws_eip.")]
    (task_address,) = [line for line in fargate.lines if line.item == "public IPv4 per running task"]
    assert task_address.monthly == pytest.approx(3.65)  # what it pays instead: one address per task
    assert not [line for line in reports["homu-ec2"].lines if line.item.startswith("detailed monitoring")]


def test_the_data_tier_stays_private_encrypted_and_tls_only(lean):
    data = lean[DATA_STACK]
    db, cache = data.resource("aws_db_instance"), data.resource("aws_elasticache_replication_group")
    assert db["publicly_accessible"] is False and db["storage_encrypted"] is True
    assert db["kms_key_id"] == key_arn(data) and cache["kms_key_id"] == key_arn(data)
    assert sorted(data.resource("aws_db_subnet_group")["subnet_ids"]) == private_subnet_refs(data)
    assert sorted(data.resource("aws_elasticache_subnet_group")["subnet_ids"]) == private_subnet_refs(data)
    assert db["vpc_security_group_ids"] == [group_ref(data, "homu-db-sg")]
    assert cache["security_group_ids"] == [group_ref(data, "homu-redis-sg")]
    assert {"name": "rds.force_ssl", "value": "1"} in data.resource("aws_db_parameter_group")["parameter"]
    assert cache["at_rest_encryption_enabled"] == "true" and cache["transit_encryption_enabled"] is True
    assert data.named("aws_kms_key", "encryption/key")["enable_key_rotation"] is True


def test_tasks_on_public_ips_are_reached_only_by_the_load_balancer(lean, default):
    service = lean["homu-fargate"].resource("aws_ecs_service")["network_configuration"]
    assert service["assign_public_ip"] is True and service["subnets"] == data_output("public_subnet_ids")
    # The same group graph as the default's private tasks: the tasks' group admits the ALB's group on
    # the app port and nothing else; the database and the cache admit only the tasks' group.
    for direction in ("ingress", "egress"):
        assert rules(lean, "homu-fargate", direction) == rules(default, "homu-fargate", direction)
        assert rules(lean, "homu-ec2", direction) == rules(default, "homu-ec2", direction)
    tasks = {rule for rule in rules(lean, "homu-fargate", "ingress") if rule[0] == "homu-backend-sg"}
    assert tasks == {("homu-backend-sg", "tcp", 8000, 8000, "homu-alb-sg")}
    for store in ("homu-db-sg", "homu-redis-sg"):
        assert {rule[4] for rule in rules(lean, "homu-fargate", "ingress") if rule[0] == store} == {
            "homu-backend-sg"
        }


def test_https_alarms_and_least_privilege_stay(lean, default):
    fargate = lean["homu-fargate"]
    by_port = listeners(fargate)
    assert by_port[443]["protocol"] == "HTTPS" and by_port[80]["default_action"][0]["type"] == "redirect"
    for name in STACKS:  # every alarm of the default, and someone to tell
        assert lean[name].resources("aws_cloudwatch_metric_alarm").keys() == (
            default[name].resources("aws_cloudwatch_metric_alarm").keys()
        )
    assert lean[DATA_STACK].resource("aws_sns_topic_subscription")["endpoint"] == LEAN["alert_email"]
    # The roles and their policies are the default's: lean removes paid extras, never a permission.
    for name in STACKS:
        for type_ in ("aws_iam_role_policy", "aws_iam_role_policy_attachment"):
            assert lean[name].resources(type_).keys() == default[name].resources(type_).keys(), (name, type_)


def test_lean_passes_the_scan_and_goes_red_without_its_exceptions(lean, tmp_path):
    dirs = [lean[name].directory for name in STACKS]
    result = scan(*dirs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note: exception" not in result.stdout
    broken = []
    for (stack_name, check), type_ in LEAN_EXCEPTIONS.items():
        assert check in exceptions(lean[stack_name].resource(type_))
    for name in STACKS:
        target = tmp_path / name
        shutil.copytree(lean[name].directory, target, symlinks=True)
        config = json.loads((target / "cdk.tf.json").read_text())
        for (stack_name, check), type_ in LEAN_EXCEPTIONS.items():
            if stack_name == name:
                (body,) = config["resource"][type_].values()
                del body["//"][SKIP_KEY][check]
        (target / "cdk.tf.json").write_text(json.dumps(config))
        broken.append(target)
    red = scan(*broken)
    assert red.returncode == 1
    assert {check for check, _ in failures(red.stdout)} == {check for _, check in LEAN_EXCEPTIONS}


@pytest.mark.terraform
@pytest.mark.parametrize(
    ("settings", "stack_name"),
    [(LEAN, "homu-fargate"), (LEAN, "homu-ec2"), ({"db_monitoring_interval": 0}, DATA_STACK)],
    ids=["lean-fargate", "lean-ec2", "no-enhanced-monitoring-data"],
)
def test_what_the_lean_settings_change_is_valid_terraform(
    synth, tmp_path, terraform_env, settings, stack_name
):
    report = validate(synth(**settings)[stack_name].directory, tmp_path / stack_name, terraform_env)
    assert report["valid"] and report["warning_count"] == 0, diagnostics(report)


# --- the settings lean turns off, each on its own -------------------------------------------------


def test_container_insights_is_a_setting(default, synth):
    cluster = synth(container_insights=False)["homu-fargate"].resource("aws_ecs_cluster")
    assert cluster["setting"] == [{"name": "containerInsights", "value": "disabled"}]
    assert "CKV_AWS_65" in exceptions(cluster)
    assert exceptions(default["homu-fargate"].resource("aws_ecs_cluster")) == {}


@pytest.mark.parametrize("interval", [0, 15])
def test_database_monitoring_interval_is_a_setting(synth, interval):
    configured = synth(db_monitoring_interval=interval)
    data = configured[DATA_STACK]
    db = data.resource("aws_db_instance")
    assert db["monitoring_interval"] == interval
    roles = [r.get("name") for r in data.resources("aws_iam_role").values()]
    monitoring = [
        line for r in priced(configured.outdir) for line in r.lines if "enhanced monitoring" in line.item
    ]
    if interval:
        assert "homu-db-enhanced-monitoring" in roles
        assert db["monitoring_role_arn"] == ref(
            data.address("aws_iam_role", data.named("aws_iam_role", "database/monitoring-role")), "arn"
        )
        (line,) = monitoring
        assert line.quantity == pytest.approx(0.35 * 60 / 15)
    else:  # no metrics, so no role for RDS to publish them with
        assert "homu-db-enhanced-monitoring" not in roles and "monitoring_role_arn" not in db
        assert "CKV_AWS_118" in exceptions(db) and monitoring == []
    assert (db["performance_insights_enabled"], db["performance_insights_retention_period"]) == (True, 7)


def test_ec2_detailed_monitoring_is_a_setting(default, synth):
    instance = synth(ec2_detailed_monitoring=False)["homu-ec2"].resource("aws_instance")
    assert instance["monitoring"] is False and "CKV_AWS_126" in exceptions(instance)
    assert "CKV_AWS_126" not in exceptions(default["homu-ec2"].resource("aws_instance"))
