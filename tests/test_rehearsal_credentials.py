"""The rehearsal's credential and least-privilege checks, each shown failing on the case it exists for.

The lanes run them on the real stacks; here they run on hand-made state objects, secrets and roles
on an in-process emulator, in seconds.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tools.rehearsal.credentials import check_no_credential_in_state, derived_secret_key
from tools.rehearsal.emulator import Emulator
from tools.rehearsal.errors import CheckFailed
from tools.rehearsal.least_privilege import READ_ONLY_ACCESS, Removal, refused, role_without

REGION = "ap-northeast-2"
BUCKET = "homu-rehearsal-roles"
STATE_KEY = "dev/homu-data/terraform.tfstate"
PASSWORD = "Rds-Generated-Password-0123"
MESSAGE = "homu/dev/SECRET_KEY/1"


@pytest.fixture(scope="module")
def emulator():
    with Emulator(REGION) as running:
        running.client("secretsmanager").create_secret(
            Name="rds!db-homu", SecretString=json.dumps({"username": "homu_admin", "password": PASSWORD})
        )
        yield running


@pytest.fixture(scope="module")
def mac_key(emulator) -> str:
    return emulator.client("kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")[
        "KeyMetadata"
    ]["Arn"]


def data_tier(emulator, mac_key: str, state: dict, bucket: str) -> SimpleNamespace:
    """What the checks read of an applied homu-data whose state is in ``bucket`` (versioned)."""
    s3 = emulator.client("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=STATE_KEY, Body=json.dumps(state).encode())
    outputs = {"secret_key_key_arn": mac_key, "secret_key_message": MESSAGE}
    return SimpleNamespace(
        client=emulator.client,
        bucket=bucket,
        outputs=outputs,
        producers={},
        stack=SimpleNamespace(outputs={name: {"value": value} for name, value in outputs.items()}),
    )


def test_a_clean_state_passes_and_names_every_credential_it_looked_for(emulator, mac_key):
    clean = {"outputs": {"database_url": {"value": "postgresql+asyncpg://u@h/db"}}}
    applied = data_tier(emulator, mac_key, clean, "clean-state")
    summary = check_no_credential_in_state(applied)
    assert summary.startswith("none of 4 credentials (")
    for label in (
        "SECRET_KEY",
        "SECRET_KEY (base64)",
        "password in secret rds!db-homu",
        "secret rds!db-homu",
    ):
        assert label in summary


def test_the_database_password_in_any_state_version_fails(emulator, mac_key):
    applied = data_tier(
        emulator, mac_key, {"resources": [{"attributes": {"password": PASSWORD}}]}, "leaky-state"
    )
    data_tier(emulator, mac_key, {"resources": []}, "leaky-state")  # a clean newer version hides nothing
    with pytest.raises(CheckFailed, match=r"holds password in secret rds!db-homu"):
        check_no_credential_in_state(applied)


def test_the_derived_secret_key_in_a_state_fails(emulator, mac_key):
    applied = data_tier(emulator, mac_key, {}, "keyed-state")
    key = derived_secret_key(emulator.client, applied.outputs)
    assert len(key) == 64 and key == derived_secret_key(emulator.client, applied.outputs)
    emulator.client("s3").put_object(
        Bucket="keyed-state", Key="dev/homu-ec2/terraform.tfstate", Body=key.encode()
    )
    with pytest.raises(CheckFailed, match=r"homu-ec2/terraform.tfstate .* holds SECRET_KEY"):
        check_no_credential_in_state(applied)


def role_with_state_policy(emulator, name: str) -> str:
    s3 = emulator.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=b"{}")
    iam = emulator.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": "x"}, "Action": "sts:AssumeRoleWithWebIdentity"}
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    statements = [
        {
            "Sid": "ListState",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{BUCKET}"],
        },
        {
            "Sid": "ReadState",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/*"],
        },
        {
            "Sid": "Lock",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/*.tflock"],
        },
    ]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="state",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    iam.attach_role_policy(RoleName=name, PolicyArn=READ_ONLY_ACCESS)
    return arn


def test_a_role_copy_lacks_exactly_the_removed_statement_and_is_refused_for_it(emulator):
    role = role_with_state_policy(emulator, "plan")
    copy = role_without(emulator.client, role, Removal("without the lock", statement="Lock"))
    iam = emulator.client("iam")
    name = copy.rsplit("/", 1)[1]
    (policy,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    kept = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in kept] == ["ListState", "ReadState"]
    assert [a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]] == [
        READ_ONLY_ACCESS
    ]
    original = emulator.client("s3", credentials=emulator.role_environment(role))
    copied = emulator.client("s3", credentials=emulator.role_environment(copy))
    lock = {"Bucket": BUCKET, "Key": STATE_KEY + ".tflock", "Body": b"{}"}
    with emulator.iam_enforced():
        original.put_object(**lock)
        assert refused(lambda: copied.put_object(**lock)) == "AccessDenied"
        # Only the lock file: the role may not write the state itself.
        assert refused(lambda: original.put_object(**{**lock, "Key": STATE_KEY})) == "AccessDenied"


def test_a_managed_action_is_taken_out_of_an_inline_copy_of_read_only_access(emulator):
    role = role_with_state_policy(emulator, "plan-rds")
    copy = role_without(emulator.client, role, Removal("without rds", managed_action="rds:Describe*"))
    name = copy.rsplit("/", 1)[1]
    iam = emulator.client("iam")
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    read_only = iam.get_role_policy(RoleName=name, PolicyName="read-only-copy")["PolicyDocument"]
    actions = {a for s in read_only["Statement"] for a in s["Action"]}
    assert "rds:Describe*" not in actions and "ec2:Describe*" in actions
    as_copy = emulator.client("rds", credentials=emulator.role_environment(copy))
    as_role = emulator.client("rds", credentials=emulator.role_environment(role))
    with emulator.iam_enforced():
        as_role.describe_db_instances()
        assert refused(as_copy.describe_db_instances).startswith("AccessDenied")


def test_a_removal_the_role_does_not_have_is_an_error_not_a_vacuous_pass(emulator):
    role = role_with_state_policy(emulator, "plan-missing")
    with pytest.raises(CheckFailed, match="has no Refresh to take away"):
        role_without(emulator.client, role, Removal("without refresh", statement="Refresh"))


def test_refused_fails_when_the_call_is_allowed():
    with pytest.raises(CheckFailed, match="was allowed"):
        refused(lambda: None)
