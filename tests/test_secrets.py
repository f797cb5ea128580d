"""The guide's three secrets, and no credential anywhere in the synthesized JSON."""

from __future__ import annotations

import json
import re

import pytest

from modules.names import COMPUTE_STACKS, DATA_STACK, STACKS
from tools.tfjson import Stack, ref


def secret(stack: Stack, name: str) -> tuple[dict, dict]:
    (address,) = [a for a, b in stack.resources("aws_secretsmanager_secret").items() if b["name"] == name]
    versions = [
        v
        for v in stack.resources("aws_secretsmanager_secret_version").values()
        if v["secret_id"] == ref(f"aws_secretsmanager_secret.{address}")
    ]
    assert len(versions) == 1
    return stack.resources("aws_secretsmanager_secret")[address], versions[0]


def test_connection_urls_are_derived_from_the_endpoints_without_credentials(default):
    stack = default[DATA_STACK]
    db = next(iter(stack.resources("aws_db_instance")))
    cache = next(iter(stack.resources("aws_elasticache_replication_group")))
    _, database_url = secret(stack, "homu/db-url")
    assert database_url["secret_string"] == (
        f"postgresql+asyncpg://homu_admin@${{aws_db_instance.{db}.address}}:5432/homu_db"
    )
    _, redis_url = secret(stack, "homu/redis-url")
    assert redis_url["secret_string"] == (
        f"rediss://${{aws_elasticache_replication_group.{cache}.primary_endpoint_address}}:6379/0"
    )


def test_secret_key_is_generated_write_only_and_never_stored(default):
    stack = default[DATA_STACK]
    _, version = secret(stack, "homu/secret-key")
    assert "secret_string" not in version
    assert (
        version["secret_string_wo"]
        == "${ephemeral.aws_secretsmanager_random_password.secret_key_draw.random_password}"
    )
    assert version["secret_string_wo_version"] == 1
    draw = stack.config["ephemeral"]["aws_secretsmanager_random_password"]["secret_key_draw"]
    assert draw == {"password_length": 64, "exclude_punctuation": True}


def test_every_variable_maps_to_its_secret(default):
    stack = default[DATA_STACK]
    db = next(iter(stack.resources("aws_db_instance")))
    mapping = stack.outputs["secret_arns"]["value"]
    assert set(mapping) == {"DATABASE_URL", "DATABASE_PASSWORD", "REDIS_URL", "REDIS_PASSWORD", "SECRET_KEY"}
    assert (
        mapping["DATABASE_PASSWORD"]
        == f"${{aws_db_instance.{db}.master_user_secret[0].secret_arn}}:password::"
    )
    for name, secret_name in (
        ("DATABASE_URL", "db-url"),
        ("REDIS_URL", "redis-url"),
        ("SECRET_KEY", "secret-key"),
        ("REDIS_PASSWORD", "redis-auth-token"),
    ):
        (address,) = [
            a
            for a, b in stack.resources("aws_secretsmanager_secret").items()
            if b["name"] == f"homu/{secret_name}"
        ]
        assert mapping[name] == ref(f"aws_secretsmanager_secret.{address}", "arn")


@pytest.mark.parametrize("stack_name", COMPUTE_STACKS)
def test_computes_read_each_secret_arn_from_the_data_tiers_state(default, stack_name):
    """The computes hold no secret of their own; they name the data tier's, by variable."""
    stack = default[stack_name]
    assert stack.resources("aws_secretsmanager_secret") == {}
    published = default[DATA_STACK].outputs["app_secret_arns"]["value"]
    assert set(published) == {
        "DATABASE_URL",
        "DATABASE_PASSWORD",
        "REDIS_URL",
        "REDIS_PASSWORD",
        "SECRET_KEY",
    }
    text = json.dumps(stack.config)
    for name in published:
        assert f"${{data.terraform_remote_state.homu-data.outputs.app_secret_arns.{name}}}" in text


def test_recovery_window_lets_dev_recreate_and_protects_production(default, production):
    for body in default[DATA_STACK].resources("aws_secretsmanager_secret").values():
        assert body["recovery_window_in_days"] == 0
    for body in production[DATA_STACK].resources("aws_secretsmanager_secret").values():
        assert body["recovery_window_in_days"] == 30


def test_secret_prefix_is_a_setting(synth):
    names = {
        b["name"]
        for b in synth(secret_prefix="shop/prod")[DATA_STACK].resources("aws_secretsmanager_secret").values()
    }
    assert names == {
        "shop/prod/db-url",
        "shop/prod/redis-url",
        "shop/prod/secret-key",
        "shop/prod/redis-auth-token",
    }


CREDENTIAL_KEYS = re.compile(r"(password|secret_string|auth_token|secret_key|token)$", re.IGNORECASE)


def literal_credentials(node, path=""):
    """Credential-named attributes holding a literal (not a reference); URLs are checked below."""
    if isinstance(node, dict):
        for key, value in node.items():
            literal = isinstance(value, str) and not value.startswith("${") and "://" not in value
            if literal and CREDENTIAL_KEYS.search(key):
                yield f"{path}.{key}"
            yield from literal_credentials(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from literal_credentials(value, f"{path}[{index}]")


@pytest.mark.parametrize("config", ["default", "production"])
@pytest.mark.parametrize("stack_name", STACKS)
def test_no_literal_credential_anywhere_in_the_output(request, config, stack_name):
    stack = request.getfixturevalue(config)[stack_name]
    assert list(literal_credentials(stack.config)) == []
    text = json.dumps(stack.config)
    assert not re.search(r"://[^/@\s\"]+:[^/@\s\"]+@", text), "a URL with user:password@"


def test_the_credential_scan_catches_a_literal(default):
    tampered = json.loads(json.dumps(default[DATA_STACK].config))
    db = next(iter(tampered["resource"]["aws_db_instance"].values()))
    db["password"] = "hunter2hunter2"
    assert list(literal_credentials(tampered)) == [
        f".resource.aws_db_instance.{next(iter(tampered['resource']['aws_db_instance']))}.password"
    ]
