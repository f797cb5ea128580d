"""The four stacks: remote state wiring, what the computes read from the data tier, provider, outputs,
and the state bucket itself."""

from __future__ import annotations

import json

import pytest

from modules.names import COMPUTE_STACKS, DATA_STACK, REMOTE_STATE_STACKS, STACKS
from tools.tfjson import REMOTE_OUTPUT, ref


def test_four_stacks_deployed_in_order(default):
    assert sorted(default.stacks) == sorted(STACKS)
    manifest = json.loads((default.outdir / "manifest.json").read_text())["stacks"]
    # What the cdktf CLI orders deploys by, and what makes it refuse to destroy the data tier alone.
    assert {name: stack["dependencies"] for name, stack in manifest.items()} == {
        "homu-state": [],
        DATA_STACK: [],
        "homu-fargate": [DATA_STACK],
        "homu-ec2": [DATA_STACK],
    }


DATA_TIER_TYPES = (
    "aws_vpc",
    "aws_subnet",
    "aws_db_instance",
    "aws_db_parameter_group",
    "aws_db_subnet_group",
    "aws_elasticache_replication_group",
    "aws_elasticache_user",
    "aws_elasticache_user_group",
    "aws_sns_topic",
    "aws_db_event_subscription",
    "aws_default_network_acl",
    "aws_flow_log",
)


@pytest.mark.parametrize("config", ["default", "production"])
@pytest.mark.parametrize("stack_name", COMPUTE_STACKS)
def test_a_compute_holds_nothing_of_the_data_tier(request, config, stack_name):
    """So a deploy or destroy of either compute cannot plan a change to the database, the cache,
    their secrets or the network: it only reads them, from homu-data's state."""
    synth = request.getfixturevalue(config)
    stack, data = synth[stack_name], synth[DATA_STACK]
    assert all(data.resources(type_) for type_ in DATA_TIER_TYPES)
    assert not [type_ for type_ in DATA_TIER_TYPES if stack.resources(type_)]
    (remote,) = stack.data("terraform_remote_state").values()
    assert remote == {
        "backend": "s3",
        "config": {
            key: value
            for key, value in data.config["terraform"]["backend"]["s3"].items()
            if key != "use_lockfile"
        },
    }
    # Every output the compute reads is one the data tier publishes.
    read = {
        output
        for stack_name, output in REMOTE_OUTPUT.findall(json.dumps(stack.config))
        if stack_name == DATA_STACK
    }
    assert read and read <= set(data.outputs)


@pytest.mark.parametrize("stack_name", REMOTE_STATE_STACKS)
def test_remote_state_stacks_use_the_s3_backend_with_native_locking(default, production, stack_name):
    for synth, environment, bucket in (
        (default, "dev", "homu-terraform-state"),
        (production, "prod", "homu-prod-terraform-state"),
    ):
        backend = synth[stack_name].config["terraform"]["backend"]
        assert backend == {
            "s3": {
                "bucket": bucket,
                "key": f"{environment}/{stack_name}/terraform.tfstate",
                "region": "ap-northeast-2",
                "encrypt": True,
                "kms_key_id": f"alias/homu-{environment}-state",
                "use_lockfile": True,
            }
        }


def test_every_stack_and_environment_has_its_own_state_key(default, production):
    keys = [
        s[name].config["terraform"]["backend"]["s3"]["key"]
        for s in (default, production)
        for name in REMOTE_STATE_STACKS
    ]
    assert len(set(keys)) == 6


def test_state_stack_keeps_its_own_state_locally_one_file_per_environment(default, production):
    # Relative to cdktf.out/stacks/homu-state: the project directory, on any machine.
    for synth, environment in ((default, "dev"), (production, "prod")):
        backend = synth["homu-state"].config["terraform"]["backend"]
        assert backend == {"local": {"path": f"../../../terraform.homu-state.{environment}.tfstate"}}


@pytest.mark.parametrize("stack_name", STACKS)
def test_provider_is_pinned_regional_and_tags_everything(default, stack_name):
    config = default[stack_name].config
    assert config["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"
    assert config["terraform"]["required_version"] == ">= 1.11"
    (provider,) = config["provider"]["aws"]
    assert provider["region"] == "ap-northeast-2"
    assert provider["default_tags"] == [
        {
            "tags": {
                "Project": "homu",
                "Environment": "dev",
                "Stack": stack_name,
                "ManagedBy": "cdktf",
            }
        }
    ]


def test_region_setting_reaches_provider_and_backend(synth):
    stack = synth(region="eu-west-1")["homu-fargate"]
    assert stack.config["provider"]["aws"][0]["region"] == "eu-west-1"
    assert stack.config["terraform"]["backend"]["s3"]["region"] == "eu-west-1"


OPERATOR_OUTPUTS = {
    DATA_STACK: {
        "database_endpoint",
        "database_password_secret_arn",
        "database_url",
        "redis_endpoint",
        "redis_url",
        "alert_topic_arn",
        "vpc_id",
    },
    "homu-fargate": {
        "url",
        "alb_dns_name",
        "ecr_repository_url",
        "cluster_name",
        "service_name",
        "log_group",
        "dashboard_name",
        "dashboard_url",
    },
    "homu-ec2": {
        "url",
        "public_ip",
        "instance_id",
        "shell_command",
        "log_group",
        "dashboard_name",
        "dashboard_url",
    },
}


@pytest.mark.parametrize("stack_name", REMOTE_STATE_STACKS)
def test_outputs_give_what_operators_need(default, stack_name):
    stack = default[stack_name]
    assert OPERATOR_OUTPUTS[stack_name] <= set(stack.outputs)
    # A compute's outputs never repeat the data tier's values (read them from homu-data).
    if stack_name != DATA_STACK:
        assert "terraform_remote_state" not in json.dumps(stack.outputs)
    db = next(iter(default[DATA_STACK].resources("aws_db_instance")))
    assert default[DATA_STACK].outputs["database_endpoint"]["value"] == ref(
        f"aws_db_instance.{db}", "address"
    )


def test_state_bucket_is_versioned_encrypted_private_tls_only_and_undeletable(default):
    stack = default["homu-state"]
    bucket = stack.resource("aws_s3_bucket")
    address = stack.address("aws_s3_bucket", bucket)
    assert bucket["bucket"] == "homu-terraform-state"
    assert bucket["force_destroy"] is False and bucket["lifecycle"] == {"prevent_destroy": True}
    assert stack.resource("aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    (rule,) = stack.resource("aws_s3_bucket_server_side_encryption_configuration")["rule"]
    assert rule["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    assert rule["bucket_key_enabled"] is True
    block = stack.resource("aws_s3_bucket_public_access_block")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert stack.resource("aws_s3_bucket_ownership_controls")["rule"] == {
        "object_ownership": "BucketOwnerEnforced"
    }
    (lifecycle,) = stack.resource("aws_s3_bucket_lifecycle_configuration")["rule"]
    assert lifecycle["status"] == "Enabled"
    assert lifecycle["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]
    assert lifecycle["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]
    (statement,) = json.loads(stack.resource("aws_s3_bucket_policy")["policy"])["Statement"]
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [ref(address, "arn"), ref(address, "arn") + "/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    attached = [
        body
        for type_, bodies in stack.config["resource"].items()
        if type_.startswith("aws_s3_bucket_")
        for body in bodies.values()
    ]
    assert len(attached) == 6 and all(body["bucket"] == ref(address) for body in attached)


def test_state_bucket_name_is_a_setting(synth):
    assert (
        synth(state_bucket="acme-tfstate")["homu-state"].resource("aws_s3_bucket")["bucket"] == "acme-tfstate"
    )


@pytest.mark.parametrize("stack_name", STACKS)
def test_default_output_never_points_at_an_emulator(default, production, stack_name):
    for synth in (default, production):
        config = synth[stack_name].config
        assert "endpoints" not in config["provider"]["aws"][0]
        assert "endpoints" not in json.dumps(config["terraform"])


def test_rehearsal_override_sends_provider_and_backend_to_the_local_emulator(synth):
    url = "http://127.0.0.1:5555"
    stack = synth(endpoint_url=url)["homu-fargate"]
    (provider,) = stack.config["provider"]["aws"]
    (endpoints,) = provider["endpoints"]
    assert set(endpoints.values()) == {url} and {"ecs", "rds", "elasticache", "secretsmanager", "sts"} <= set(
        endpoints
    )
    assert provider["s3_use_path_style"] is True and provider["skip_credentials_validation"] is True
    backend = stack.config["terraform"]["backend"]["s3"]
    assert backend["endpoints"] == {"s3": url, "sts": url, "iam": url} and backend["use_path_style"] is True
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    # The data tier's state is read from the emulator too.
    (remote,) = stack.data("terraform_remote_state").values()
    assert (
        remote["config"]["endpoints"] == backend["endpoints"] and remote["config"]["use_path_style"] is True
    )
