"""``python -m tools.state_versions``: old state versions that still hold a secret value, found and
deleted, against moto's S3 in process (a versioned bucket like homu-state's)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tools import state_versions

BUCKET, KEY = "homu-terraform-state", "dev/homu-data/terraform.tfstate"


def state(*resources: dict) -> bytes:
    return json.dumps({"version": 4, "resources": list(resources)}).encode()


SECRET_VERSION = {
    "mode": "managed",
    "type": "aws_secretsmanager_secret_version",
    "name": "redis_url",
    "instances": [{"attributes": {"secret_string": "rediss://:hunter2@cache:6379/0"}}],
}
CACHE_WITH_TOKEN = {
    "mode": "managed",
    "type": "aws_elasticache_replication_group",
    "name": "cache",
    "instances": [{"attributes": {"auth_token": "hunter2hunter2hunter2", "id": "homu-redis"}}],
}
CACHE_WITH_IAM = {**CACHE_WITH_TOKEN, "instances": [{"attributes": {"auth_token": "", "id": "homu-redis"}}]}
LOOKUP = {"mode": "data", "type": "aws_secretsmanager_secret_version", "name": "read", "instances": []}


@pytest.fixture
def s3(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith(("HOMU_", "AWS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="ap-northeast-2")
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
        )
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def put(s3, body: bytes) -> str:
    return s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)["VersionId"]


def test_old_versions_with_secrets_are_listed_then_deleted_and_the_current_one_kept(s3, capsys):
    before_iam = put(s3, state(SECRET_VERSION, CACHE_WITH_TOKEN))
    token_only = put(s3, state(CACHE_WITH_TOKEN))
    current = put(s3, state(CACHE_WITH_IAM, LOOKUP))

    assert state_versions.main([]) == 1
    out = capsys.readouterr().out.splitlines()  # newest first, as S3 lists them
    assert out[0].startswith(f"{KEY} old version {token_only} (")
    assert out[0].endswith("): aws_elasticache_replication_group.cache (auth_token)")
    assert out[1].startswith(f"{KEY} old version {before_iam} (")
    assert out[1].endswith(
        "aws_secretsmanager_secret_version.redis_url (a secret value), "
        "aws_elasticache_replication_group.cache (auth_token)"
    )
    assert out[-1] == "2 old version(s) hold a secret value; delete them with --delete"

    assert state_versions.main(["--delete", "homu-data"]) == 0
    assert capsys.readouterr().out.count("  deleted ") == 2
    left = [v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"]]
    assert left == [current]
    assert state_versions.main([]) == 0
    assert capsys.readouterr().out == "no version of 3 state object(s) holds a secret value\n"


def test_a_current_state_with_a_secret_is_never_deleted(s3, capsys):
    current = put(s3, state(SECRET_VERSION))
    assert state_versions.main(["--delete"]) == 1
    captured = capsys.readouterr()
    assert f"{KEY} current version {current}" in captured.out and "deleted" not in captured.out
    assert captured.err == (
        f"error: the current state of {KEY} still holds a secret: apply this project's homu-data first, "
        "then run this again\n"
    )
    assert len(s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"]) == 1


def test_an_unknown_stack_is_one_line(s3, capsys):
    with pytest.raises(SystemExit) as exited:
        state_versions.main(["homu-state"])
    assert exited.value.code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith("error: stack 'homu-state': allowed: homu-data, homu-fargate, homu-ec2")
    )
