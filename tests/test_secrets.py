"""No credential in Terraform: not in the synthesized JSON, not in a secret version a plan reads back.

The one secret is RDS's own master password; Redis signs in with IAM; SECRET_KEY is derived with a
KMS HMAC key at start. What the app is handed is checked here and, per compute, in its own tests.
"""

from __future__ import annotations

import json
import re

import pytest

from modules.names import DATA_STACK, STACKS
from tests.conftest import ROOT
from tools.tfjson import Stack, ref

# Terraform reads every one of these back (GetSecretValue) on every plan, write-only or not: a stack
# holding one needs a plan role that may read secret values.
SECRET_HOLDERS = (
    "aws_secretsmanager_secret",
    "aws_secretsmanager_secret_version",
    "aws_ssm_parameter",  # checked separately: only String parameters, none a credential
)


def data_outputs(stack: Stack) -> dict[str, str]:
    return {name: output["value"] for name, output in stack.outputs.items()}


@pytest.mark.parametrize("config", ["default", "production"])
@pytest.mark.parametrize("stack_name", STACKS)
def test_terraform_holds_no_secret_value(request, config, stack_name):
    stack = request.getfixturevalue(config)[stack_name]
    assert stack.resources("aws_secretsmanager_secret") == {}
    assert stack.resources("aws_secretsmanager_secret_version") == {}
    assert "ephemeral" not in stack.config
    assert not stack.data("aws_secretsmanager_random_password")
    assert not stack.data("aws_secretsmanager_secret_version")
    for parameter in stack.resources("aws_ssm_parameter").values():
        assert parameter["type"] == "String" and "value" not in parameter


def test_the_database_password_is_rds_managed_and_the_only_secret(default):
    stack = default[DATA_STACK]
    (db_address, db) = next(iter(stack.resources("aws_db_instance").items()))
    assert db["manage_master_user_password"] is True and "password" not in db
    outputs = data_outputs(stack)
    # try(): an adopted instance has no RDS secret until the apply that turns management on.
    secret = ref(f"aws_db_instance.{db_address}", "master_user_secret[0].secret_arn")
    assert outputs["database_password_secret_arn"] == f'${{try({secret[2:-1]}, "")}}'


def test_connection_urls_are_derived_from_the_endpoints_without_credentials(default):
    stack = default[DATA_STACK]
    db = next(iter(stack.resources("aws_db_instance")))
    cache = next(iter(stack.resources("aws_elasticache_replication_group")))
    outputs = data_outputs(stack)
    # The app signs in as its own user with IAM tokens; only app.dbinit gets the master's URL.
    assert (
        outputs["database_url"]
        == f"postgresql+asyncpg://homu_app@${{aws_db_instance.{db}.address}}:5432/homu_db"
    )
    assert (
        outputs["database_admin_url"]
        == f"postgresql+asyncpg://homu_admin@${{aws_db_instance.{db}.address}}:5432/homu_db"
    )
    assert outputs["database_app_user"] == "homu_app"
    assert re.fullmatch(
        r"arn:aws:rds-db:ap-northeast-2:\$\{data\.aws_caller_identity\.database_account_[0-9A-F]{8}\.account_id\}"
        rf":dbuser:\$\{{aws_db_instance\.{db}\.resource_id\}}/homu_app",
        outputs["database_connect_arn"],
    )
    # The user in the URL signs in with an IAM token; there is no password to put beside it.
    (user,) = [a for a, u in stack.resources("aws_elasticache_user").items() if u["user_name"] != "default"]
    assert outputs["redis_url"] == (
        f"rediss://${{aws_elasticache_user.{user}.user_id}}"
        f"@${{aws_elasticache_replication_group.{cache}.primary_endpoint_address}}:6379/0"
    )
    assert outputs["cache_id"] == "homu-redis"


def test_secret_key_is_derived_with_an_hmac_key_that_only_macs(default):
    stack = default[DATA_STACK]
    (address,) = [a for a, k in stack.resources("aws_kms_key").items() if k.get("key_usage")]
    key = stack.resources("aws_kms_key")[address]
    assert (key["key_usage"], key["customer_master_key_spec"]) == ("GENERATE_VERIFY_MAC", "HMAC_256")
    # IAM grants it (the runtime roles' policies name it, see the compute tests), and the key itself
    # refuses GenerateMac to every principal but those two roles, administrators included.
    administer, deny = json.loads(key["policy"])["Statement"]
    assert administer["Principal"]["AWS"].endswith(":root")
    assert administer["Sid"] == "AccountAdministersThroughIam"
    assert (deny["Sid"], deny["Effect"], deny["Principal"], deny["Action"]) == (
        "OnlyTheAppDerives",
        "Deny",
        {"AWS": "*"},
        "kms:GenerateMac",
    )
    # Pinned to the two runtime roles by unique id, and those roles live in this stack, so they exist
    # whichever option is deployed: a role made later under either name has another id.
    roles = stack.resources("aws_iam_role")
    by_name = {role.get("name"): address for address, role in roles.items()}
    assert deny["Condition"] == {
        "StringNotLike": {
            "aws:userid": [
                "${aws_iam_role." + by_name["homu-backend-task-task"] + ".unique_id}:*",
                "${aws_iam_role." + by_name["homu-backend-host"] + ".unique_id}:*",
            ]
        }
    }
    assert json.loads(roles[by_name["homu-backend-task-task"]]["assume_role_policy"])["Statement"][0][
        "Principal"
    ] == {"Service": "ecs-tasks.amazonaws.com"}
    assert json.loads(roles[by_name["homu-backend-host"]]["assume_role_policy"])["Statement"][0][
        "Principal"
    ] == {"Service": "ec2.amazonaws.com"}
    # They carry no permission in this stack: each compute attaches its own.
    attached = [
        body["role"]
        for kind in ("aws_iam_role_policy", "aws_iam_role_policy_attachment")
        for body in stack.resources(kind).values()
    ]
    assert not any(
        by_name["homu-backend-task-task"] in role or by_name["homu-backend-host"] in role for role in attached
    )
    aliases = [a["name"] for a in stack.resources("aws_kms_alias").values()]
    assert "alias/homu-dev-secret-key" in aliases
    outputs = data_outputs(stack)
    assert outputs["secret_key_key_arn"] == ref(f"aws_kms_key.{address}", "arn")
    assert outputs["secret_key_message"] == "homu/dev/SECRET_KEY/1"


def test_a_new_secret_key_generation_is_a_new_message(synth):
    outputs = data_outputs(synth(secret_key_generation=2, environment="stage")[DATA_STACK])
    assert outputs["secret_key_message"] == "homu/stage/SECRET_KEY/2"


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


def test_the_documented_key_replacement_names_the_hmac_keys_address(default):
    """docs/secrets.md tells how to replace the key after a compromise, by its Terraform address."""
    stack = default["homu-data"]
    address = stack.address("aws_kms_key", stack.named("aws_kms_key", "secret-key/key"))
    assert f"apply -replace={address}`" in (ROOT / "docs" / "secrets.md").read_text()
