"""The rehearsal's credential and least-privilege checks, each shown failing on the case it exists for.

The lanes run them on the real stacks; here they run on hand-made state objects, secrets and roles
on an in-process emulator, in seconds.
"""

from __future__ import annotations

import json
from functools import partial
from types import SimpleNamespace

import pytest

from tools.rehearsal import least_privilege
from tools.rehearsal.credentials import check_no_credential_in_state, derived_secret_key
from tools.rehearsal.emulator import Emulator
from tools.rehearsal.emulator.iam import Call
from tools.rehearsal.errors import CheckFailed
from tools.rehearsal.least_privilege import Removal, refused, role_without

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
            "Sid": "Refresh",
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances", "ec2:DescribeVpcs"],
            "Resource": ["*"],
        },
        {
            "Sid": "ReadThisEnvironmentsState",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/dev/*"],
        },
    ]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="state",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return arn


def test_a_role_copy_lacks_exactly_the_removed_statement_and_is_refused_for_it(emulator):
    role = role_with_state_policy(emulator, "plan")
    copy = role_without(
        emulator.client, role, Removal("without the state", statement="ReadThisEnvironmentsState")
    )
    iam = emulator.client("iam")
    name = copy.rsplit("/", 1)[1]
    (policy,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    kept = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in kept] == ["Refresh"]
    original = emulator.client("s3", credentials=emulator.role_environment(role))
    copied = emulator.client("s3", credentials=emulator.role_environment(copy))
    with emulator.iam_enforced():
        original.get_object(Bucket=BUCKET, Key=STATE_KEY)
        assert refused(lambda: copied.get_object(Bucket=BUCKET, Key=STATE_KEY)) == "AccessDenied"


def test_an_action_is_taken_out_of_the_statements_that_allow_it(emulator):
    role = role_with_state_policy(emulator, "plan-rds")
    removal = Removal("without rds", action="rds:DescribeDBInstances")
    name = role_without(emulator.client, role, removal).rsplit("/", 1)[1]
    iam = emulator.client("iam")
    kept = iam.get_role_policy(RoleName=name, PolicyName="state")["PolicyDocument"]["Statement"]
    assert kept[0] == {"Sid": "Refresh", "Effect": "Allow", "Action": ["ec2:DescribeVpcs"], "Resource": ["*"]}
    copy = f"{role.rsplit('/', 1)[0]}/{name}"
    as_copy = emulator.client("rds", credentials=emulator.role_environment(copy))
    as_role = emulator.client("rds", credentials=emulator.role_environment(role))
    with emulator.iam_enforced():
        as_role.describe_db_instances()
        assert refused(as_copy.describe_db_instances).startswith("AccessDenied")
        emulator.client("ec2", credentials=emulator.role_environment(copy)).describe_vpcs()


def test_a_removal_the_role_does_not_have_is_an_error_not_a_vacuous_pass(emulator):
    role = role_with_state_policy(emulator, "plan-missing")
    with pytest.raises(CheckFailed, match="has no Lock to take away"):
        role_without(emulator.client, role, Removal("without the lock", statement="Lock"))


def call(action: str, allowed: bool = True, resource: str = "*") -> Call:
    return Call(action, resource, allowed)


def test_refresh_actions_must_be_exactly_what_the_plans_called(monkeypatch):
    monkeypatch.setattr(least_privilege, "REFRESH_ACTIONS", ("ec2:DescribeVpcs", "rds:DescribeDBInstances"))
    calls = {
        "homu-data": [call("ec2:DescribeVpcs"), call("s3:GetObject"), call("sts:GetCallerIdentity")],
        "homu-fargate": [call("rds:DescribeDBInstances"), call("ec2:DescribeVpcs")],
    }
    assert least_privilege.check_refresh_actions(calls) == (
        "2 refresh actions, each called (homu-data 3, homu-fargate 2); nothing refused"
    )
    with pytest.raises(
        CheckFailed, match=r"granted, never called: \['rds:DescribeDBInstances'\]; called, not"
    ):
        least_privilege.check_refresh_actions({"homu-data": calls["homu-data"]})
    with pytest.raises(
        CheckFailed, match=r"granted, never called: none; called, not listed: \['ecs:ListTagsFor"
    ):
        least_privilege.check_refresh_actions({**calls, "homu-ec2": [call("ecs:ListTagsForResource")]})
    refusal = {**calls, "homu-ec2": [call("logs:FilterLogEvents", allowed=False, resource="*")]}
    with pytest.raises(CheckFailed, match=r"was refused logs:FilterLogEvents on \* \(the plans went on"):
        least_privilege.check_refresh_actions(refusal)


def test_data_reads_are_refused_to_a_role_without_them_and_the_check_fails_when_one_is_allowed(emulator):
    emulator.client("logs").create_log_group(logGroupName="/ecs/homu-backend")
    narrow = role_with_state_policy(emulator, "plan-data")
    as_narrow = partial(emulator.client, credentials=emulator.role_environment(narrow))
    with emulator.iam_enforced():
        result = least_privilege.check_data_reads_refused(
            as_narrow, emulator.client, bucket=BUCKET, environment="dev"
        )
    assert result == (
        "refused: another environment's state (AccessDenied); writing a lock (AccessDenied); deleting a lock "
        "(AccessDenied); another parameter (AccessDeniedException); log events (AccessDeniedException); "
        "the database's secret (AccessDeniedException)"
    )
    wide = role_with_state_policy(emulator, "plan-wide")
    emulator.client("iam").put_role_policy(
        RoleName="plan-wide",
        PolicyName="all-objects",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    as_wide = partial(emulator.client, credentials=emulator.role_environment(wide))
    with emulator.iam_enforced(), pytest.raises(CheckFailed, match="was allowed"):
        least_privilege.check_data_reads_refused(as_wide, emulator.client, bucket=BUCKET, environment="dev")


def test_refused_fails_when_the_call_is_allowed():
    with pytest.raises(CheckFailed, match="was allowed"):
        refused(lambda: None)
