"""Settings: the guide's defaults, every source and override, and one clear line per bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modules.names import STACKS
from modules.settings import Settings, SettingsError, load_settings
from modules.settings_allowed import FARGATE_TASK_SIZES
from tests.conftest import run_main


def load(tmp_path: Path, *, context: dict | None = None, env: dict | None = None) -> Settings:
    cdktf_json = tmp_path / "cdktf.json"
    if context is not None:
        cdktf_json.write_text(json.dumps({"language": "python", "context": context}))
    return load_settings(cdktf_json, env or {})


def problems(tmp_path: Path, *, context: dict | None = None, env: dict | None = None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, context=context, env=env)
    return caught.value.lines


def test_defaults_are_the_guides_values(tmp_path):
    s = load(tmp_path)
    assert (s.environment, s.region) == ("dev", "ap-northeast-2")
    assert (s.app_name, s.db_identifier, s.db_name, s.redis_id) == (
        "homu-backend",
        "homu-db",
        "homu_db",
        "homu-redis",
    )
    assert (s.cluster_name, s.task_family, s.service_name, s.alb_name) == (
        "homu-cluster",
        "homu-backend-task",
        "homu-backend-service",
        "homu-alb",
    )
    assert (s.fargate_cpu, s.fargate_memory, s.app_port, s.health_check_path) == (512, 1024, 8000, "/health")
    assert (s.db_instance_class, s.db_allocated_storage, s.db_max_allocated_storage) == (
        "db.t3.micro",
        20,
        100,
    )
    assert (s.ec2_instance_type, s.ec2_volume_size) == ("t3.small", 20)
    assert s.admin_cidr is None and s.alert_email is None and s.domain_name is None


def test_every_environment_dependent_setting_holds_its_effective_value(tmp_path):
    dev, prod = load(tmp_path), load(tmp_path, env={"HOMU_ENVIRONMENT": "prod"})
    keys = (
        "db_multi_az",
        "deletion_protection",
        "waf",
        "redis_num_cache_clusters",
        "db_skip_final_snapshot",
        "kms_deletion_window_days",
        "ecr_force_delete",
    )
    assert [getattr(dev, key) for key in keys] == [False, False, False, 1, True, 7, True]
    assert [getattr(prod, key) for key in keys] == [True, True, True, 2, False, 30, False]


def test_an_explicit_value_wins_over_the_environment_default(tmp_path):
    explicit = load(tmp_path, env={"HOMU_ENVIRONMENT": "prod", "HOMU_DB_MULTI_AZ": "false"})
    assert explicit.db_multi_az is False


def test_lifting_deletion_protection_for_a_teardown_keeps_the_data(tmp_path):
    """The production teardown (deletion_protection=false) still leaves a final snapshot and the
    automated backups, and the keys that encrypt them keep their 30-day window; only the image
    repository follows the protection."""
    unprotected = load(tmp_path, env={"HOMU_ENVIRONMENT": "prod", "HOMU_DELETION_PROTECTION": "false"})
    assert unprotected.db_skip_final_snapshot is False and unprotected.kms_deletion_window_days == 30
    assert unprotected.ecr_force_delete is True and unprotected.db_multi_az is True


def test_skipping_the_final_snapshot_in_production_takes_its_own_setting(tmp_path):
    skipped = load(tmp_path, env={"HOMU_ENVIRONMENT": "prod", "HOMU_DB_SKIP_FINAL_SNAPSHOT": "true"})
    assert skipped.db_skip_final_snapshot is True and skipped.deletion_protection is True


def test_a_redis_before_7_is_refused_because_the_app_signs_in_with_iam(tmp_path):
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, env={"HOMU_REDIS_ENGINE_VERSION": "6.2"})
    (line,) = raised.value.lines
    assert line == (
        "setting redis_engine_version (HOMU_REDIS_ENGINE_VERSION): got '6.2'; allowed: "
        "7.x, e.g. 7.1 (the app signs in with IAM, which ElastiCache offers from Redis 7 on)"
    )


PUBLIC_VARIABLES = {
    "HOMU_ENVIRONMENT": ("staging", "environment", "staging"),
    "HOMU_REGION": ("eu-west-1", "region", "eu-west-1"),
    "HOMU_STATE_BUCKET": ("acme-tf-state", "state_bucket", "acme-tf-state"),
    "HOMU_FARGATE_CPU": ("1024", "fargate_cpu", 1024),
    "HOMU_FARGATE_MEMORY": ("3072", "fargate_memory", 3072),
    "HOMU_DESIRED_COUNT": ("2", "desired_count", 2),
    "HOMU_MIN_CAPACITY": ("2", "min_capacity", 2),
    "HOMU_MAX_CAPACITY": ("8", "max_capacity", 8),
    "HOMU_DB_INSTANCE_CLASS": ("db.t4g.small", "db_instance_class", "db.t4g.small"),
    "HOMU_DB_ALLOCATED_STORAGE": ("50", "db_allocated_storage", 50),
    "HOMU_DB_MULTI_AZ": ("true", "db_multi_az", True),
    "HOMU_REDIS_NODE_TYPE": ("cache.t4g.small", "redis_node_type", "cache.t4g.small"),
    "HOMU_EC2_INSTANCE_TYPE": ("t3.medium", "ec2_instance_type", "t3.medium"),
    "HOMU_CONTAINER_INSIGHTS": ("false", "container_insights", False),
    "HOMU_DB_MONITORING_INTERVAL": ("0", "db_monitoring_interval", 0),
    "HOMU_EC2_DETAILED_MONITORING": ("false", "ec2_detailed_monitoring", False),
    "HOMU_ADMIN_CIDR": ("203.0.113.7/32", "admin_cidr", "203.0.113.7/32"),
    "HOMU_ALERT_EMAIL": ("ops@example.com", "alert_email", "ops@example.com"),
    "HOMU_DOMAIN_NAME": ("api.example.com", "domain_name", "api.example.com"),
    "HOMU_HOSTED_ZONE": ("example.com", "hosted_zone", "example.com"),
    "HOMU_CERTIFICATE_ARN": (
        "arn:aws:acm:ap-northeast-2:123456789012:certificate/0f5c9a52-1b2c-4d3e-8f90-a1b2c3d4e5f6",
        "certificate_arn",
        "arn:aws:acm:ap-northeast-2:123456789012:certificate/0f5c9a52-1b2c-4d3e-8f90-a1b2c3d4e5f6",
    ),
}
# Variables that only make sense together with another one.
COMPANIONS = {
    "HOMU_FARGATE_CPU": {"HOMU_FARGATE_MEMORY": "2048"},
    "HOMU_FARGATE_MEMORY": {"HOMU_FARGATE_CPU": "1024"},
    "HOMU_MIN_CAPACITY": {"HOMU_DESIRED_COUNT": "2"},
    "HOMU_HOSTED_ZONE": {"HOMU_DOMAIN_NAME": "api.example.com"},
    "HOMU_CERTIFICATE_ARN": {"HOMU_DOMAIN_NAME": "api.example.com"},
}


@pytest.mark.parametrize("variable", sorted(PUBLIC_VARIABLES))
def test_every_public_environment_variable_sets_its_field(tmp_path, variable):
    given, field, expected = PUBLIC_VARIABLES[variable]
    settings = load(tmp_path, env={variable: given, **COMPANIONS.get(variable, {})})
    assert getattr(settings, field) == expected


def test_precedence_defaults_context_file_environment(tmp_path):
    settings_file = tmp_path / "stage.json"
    settings_file.write_text(json.dumps({"desired_count": 2, "max_capacity": 5}))
    s = load(
        tmp_path,
        context={"desired_count": 3, "max_capacity": 9, "min_capacity": 1, "cdktf:someFlag": True},
        env={"HOMU_SETTINGS_FILE": str(settings_file), "HOMU_MAX_CAPACITY": "7"},
    )
    assert (s.desired_count, s.max_capacity, s.min_capacity) == (2, 7, 1)


def test_empty_variable_clears_an_optional_setting(tmp_path):
    s = load(tmp_path, context={"alert_email": "ops@example.com"}, env={"HOMU_ALERT_EMAIL": ""})
    assert s.alert_email is None


@pytest.mark.parametrize(
    ("env", "key", "allowed"),
    [
        ({"HOMU_FARGATE_CPU": "300"}, "fargate_cpu", "one of 256, 512, 1024, 2048, 4096, 8192, 16384"),
        (
            {"HOMU_FARGATE_MEMORY": "512"},
            "fargate_memory",
            "with fargate_cpu 512, one of 1024, 2048, 3072, 4096",
        ),
        ({"HOMU_ADMIN_CIDR": "10.0.0.300/32"}, "admin_cidr", "CIDR block"),
        ({"HOMU_ADMIN_CIDR": "203.0.113.7/24"}, "admin_cidr", "host bits zero"),
        ({"HOMU_ADMIN_CIDR": "0.0.0.0/0"}, "admin_cidr", "not the whole internet"),
        ({"HOMU_ALERT_EMAIL": "ops-at-example"}, "alert_email", "e-mail address"),
        ({"HOMU_REGION": "kr-seoul-1"}, "region", "ap-northeast-2"),
        ({"HOMU_DB_ALLOCATED_STORAGE": "10"}, "db_allocated_storage", "greater than or equal to 20"),
        ({"HOMU_DESIRED_COUNT": "9"}, "desired_count", "between min_capacity (1) and max_capacity (4)"),
        (
            {"HOMU_MIN_CAPACITY": "5", "HOMU_MAX_CAPACITY": "3", "HOMU_DESIRED_COUNT": "3"},
            "min_capacity",
            "at most max_capacity (3)",
        ),
        ({"HOMU_DESIRED_COUNT": "two"}, "desired_count", "valid integer"),
        ({"HOMU_DB_MULTI_AZ": "maybe"}, "db_multi_az", "valid boolean"),
        ({"HOMU_STATE_BUCKET": "My_Bucket"}, "state_bucket", "S3 bucket name"),
        ({"HOMU_HOSTED_ZONE": "example.com"}, "hosted_zone", "only together with domain_name"),
        (
            {"HOMU_HOSTED_ZONE": "example.com", "HOMU_DOMAIN_NAME": "api.example.org"},
            "domain_name",
            "inside hosted_zone",
        ),
        (
            {
                "HOMU_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/0f5c9a52-1b2c-4d3e-8f90-a1b2c3d4e5f6"
            },
            "certificate_arn",
            "region ap-northeast-2",
        ),
        ({"HOMU_ENVIRONMENT": "Prod!"}, "environment", "match pattern"),
        ({"HOMU_DB_INSTANCE_CLASS": "t3.micro"}, "db_instance_class", "db.t3.micro"),
        (
            {"HOMU_DB_APP_USERNAME": "homu_admin"},
            "db_app_username",
            "a user other than db_username (homu_admin)",
        ),
        ({"HOMU_DB_APP_USERNAME": "HomuApp"}, "db_app_username", "match pattern"),
        ({"HOMU_NAT_GATEWAYS": "two"}, "nat_gateways", "'none', 'single' or 'per_az'"),
        ({"HOMU_LOG_RETENTION_DAYS": "10"}, "log_retention_days", "one of 1, 3, 5, 7, 14, 30"),
        ({"HOMU_FARGATE_SPOT_PERCENT": "120"}, "fargate_spot_percent", "less than or equal to 100"),
        (
            {"HOMU_OFF_HOURS_MIN_CAPACITY": "3"},
            "off_hours_min_capacity",
            "at most off_hours_max_capacity (2)",
        ),
        ({"HOMU_OFF_HOURS_MAX_CAPACITY": "5"}, "off_hours_max_capacity", "at most max_capacity (4)"),
        ({"HOMU_IMAGE_TAG": "v1 beta"}, "image_tag", "match pattern"),
        ({"HOMU_CONTAINER_INSIGHTS": "sometimes"}, "container_insights", "valid boolean"),
        ({"HOMU_DB_MONITORING_INTERVAL": "45"}, "db_monitoring_interval", "one of 0, 1, 5, 10, 15, 30, 60"),
        ({"HOMU_EC2_DETAILED_MONITORING": "2"}, "ec2_detailed_monitoring", "valid boolean"),
    ],
)
def test_bad_value_gets_one_line_naming_key_value_and_what_is_allowed(tmp_path, env, key, allowed):
    lines = problems(tmp_path, env=env)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"setting {key} (HOMU_{key.upper()}): got "), line
    given = env.get(f"HOMU_{key.upper()}")
    if given is not None:
        assert repr(given) in line
    assert allowed in line


def test_every_problem_is_reported_in_one_pass(tmp_path):
    lines = problems(
        tmp_path,
        env={
            "HOMU_FARGATE_CPU": "300",  # field error
            "HOMU_ALERT_EMAIL": "nope",  # field error
            "HOMU_DESIRED_COUNT": "9",  # cross-field, unrelated to the bad fields
            "HOMU_DB_ALLOCATED_STORAGE": "100",  # cross-field with db_max_allocated_storage
        },
    )
    keys = sorted(line.split()[1] for line in lines)
    assert keys == ["alert_email", "db_max_allocated_storage", "desired_count", "fargate_cpu"], lines


def test_a_bad_cpu_does_not_also_blame_the_memory(tmp_path):
    # memory 1024 is only wrong relative to the bad cpu; one line about the cpu is the useful answer.
    lines = problems(tmp_path, env={"HOMU_FARGATE_CPU": "3000"})
    assert [line.split()[1] for line in lines] == ["fargate_cpu"]


def test_unknown_keys_are_refused_not_ignored(tmp_path):
    lines = problems(tmp_path, context={"fargate_cpus": 512}, env={"HOMU_FARGATE_CPUS": "512"})
    assert lines == ["environment variable HOMU_FARGATE_CPUS: not a setting; see docs/settings.md"]
    lines = problems(tmp_path, context={"fargate_cpus": 512})
    assert lines == [
        "setting fargate_cpus (HOMU_FARGATE_CPUS): got 512; allowed: a known setting (see docs/settings.md)"
    ]


def test_unreadable_settings_file_is_one_line(tmp_path):
    lines = problems(tmp_path, env={"HOMU_SETTINGS_FILE": str(tmp_path / "missing.json")})
    assert lines == [f"HOMU_SETTINGS_FILE: {str(tmp_path / 'missing.json')!r} does not exist"]


def test_every_valid_fargate_pair_is_accepted(tmp_path):
    for cpu, memories in FARGATE_TASK_SIZES.items():
        for memory in (memories[0], memories[-1]):
            s = load(tmp_path, env={"HOMU_FARGATE_CPU": str(cpu), "HOMU_FARGATE_MEMORY": str(memory)})
            assert (s.fargate_cpu, s.fargate_memory) == (cpu, memory)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def test_main_with_bad_settings_exits_non_zero_without_traceback_and_leaves_output_alone(tmp_path):
    earlier = tmp_path / "cdktf.out" / "stacks" / "homu-fargate"
    earlier.mkdir(parents=True)
    (earlier / "cdk.tf.json").write_text('{"earlier": "good synth"}')
    before = snapshot(tmp_path)

    result = run_main(tmp_path, {"HOMU_FARGATE_CPU": "300", "HOMU_ADMIN_CIDR": "everyone"})

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert sorted(e.split()[2] for e in errors) == ["admin_cidr", "fargate_cpu"], result.stderr
    assert result.stdout == ""
    assert snapshot(tmp_path) == before


def test_main_with_no_settings_at_all_synthesizes_every_stack(tmp_path):
    # No cdktf.json, no settings file, no HOMU_* variables: the guide's defaults.
    result = run_main(tmp_path, {})
    assert result.returncode == 0, result.stderr
    stacks = sorted(p.name for p in (tmp_path / "cdktf.out" / "stacks").iterdir())
    assert stacks == sorted(STACKS)
    for stack in stacks:
        json.loads((tmp_path / "cdktf.out" / "stacks" / stack / "cdk.tf.json").read_text())
    assert not list(tmp_path.glob(".cdktf.out-*")), "the staging directory must not be left behind"


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:5000", "http://example.com:5000", "https://127.0.0.1", "127.0.0.1:5000"]
)
def test_the_emulator_endpoint_must_be_loopback(tmp_path, url):
    (line,) = problems(tmp_path, env={"HOMU_ENDPOINT_URL": url})
    assert line.startswith("setting endpoint_url (HOMU_ENDPOINT_URL)") and "loopback" in line


def test_settings_built_directly_resolve_the_same_way():
    """Constructing Settings(...) (not only validate()) leaves no environment-dependent field unset."""
    production = Settings(environment="prod")
    assert (production.deletion_protection, production.redis_num_cache_clusters) == (True, 2)
    assert None not in {
        getattr(Settings(), key) for key in ("db_multi_az", "waf", "kms_deletion_window_days")
    }


def test_state_key_users_come_comma_separated_from_the_environment_and_must_be_iam_arns(tmp_path):
    deployer, admin = "arn:aws:iam::123456789012:role/deployer", "arn:aws:iam::123456789012:user/admin"
    assert load(tmp_path, env={"HOMU_STATE_KEY_USERS": f"{deployer}, {admin}"}).state_key_users == [
        deployer,
        admin,
    ]
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, env={"HOMU_STATE_KEY_USERS": "deployer"})
    [line] = raised.value.lines
    assert line.startswith(
        "setting state_key_users (HOMU_STATE_KEY_USERS): got 'deployer'; allowed: IAM user or role ARNs"
    )
