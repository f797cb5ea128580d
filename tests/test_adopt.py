"""Adopting a deployment built by hand: the ``adoption`` setting, the import blocks it synthesizes,
adopt's decisions on Terraform's plan, and the adoption lane (``tests/adopt_lane.py``) end to end."""

from __future__ import annotations

import json
import shutil

import pytest

from modules.names import DATA_STACK, FARGATE_STACK, SKIP_KEY, STACKS
from modules.settings import SettingsError, validate
from tests.adopt_lane import COMMANDS, FORGOTTEN
from tests.rehearsals import ADOPTION_LANE
from tests.test_existing_network import GUIDE
from tests.test_policies import failures, scan
from tools.adopt.decide import Row, action, cost, refusals, rows
from tools.adopt.retire import world_opening
from tools.rehearsal.__main__ import main as rehearsal

DATABASE = "aws_db_instance.database_instance_D7FC2283"
REPOSITORY = "aws_ecr_repository.registry_repository_BAFE171E"
AWS_RDS_KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/f5f30938-abed-41a2-a0f6-5482d02a2489"
ADOPTION = {
    "imports": {DATA_STACK: {DATABASE: "homu-db"}, FARGATE_STACK: {REPOSITORY: "homu-backend"}},
    "database_kms_key_id": AWS_RDS_KEY,
    "registry_encryption": "AES256",
    "group_name_suffix": "-tf",
}


@pytest.fixture(scope="module")
def adopted(synth):
    return synth(**GUIDE, adoption=ADOPTION, db_username="postgres")


def test_imports_are_synthesized_as_import_blocks_on_the_addresses_named(adopted):
    assert adopted[DATA_STACK].config["import"] == [{"to": DATABASE, "id": "homu-db"}]
    assert adopted[FARGATE_STACK].config["import"] == [{"to": REPOSITORY, "id": "homu-backend"}]


def test_what_keeps_the_data_is_mirrored_and_every_group_is_renamed(adopted):
    database = adopted[DATA_STACK].resource("aws_db_instance")
    assert (database["kms_key_id"], database["username"]) == (AWS_RDS_KEY, "postgres")
    # Only the storage keeps the old key: RDS's secret and Performance Insights stay on the stack's key.
    assert database["master_user_secret_kms_key_id"].startswith("${aws_kms_key.")
    repository = adopted[FARGATE_STACK].resource("aws_ecr_repository")
    assert repository["encryption_configuration"] == [{"encryption_type": "AES256"}]
    assert "CKV_AWS_136" in repository["//"]["checkov_skip"]
    names = {
        body["name"]
        for stack in (DATA_STACK, FARGATE_STACK)
        for body in adopted[stack].resources("aws_security_group").values()
    }
    assert names == {"homu-db-sg-tf", "homu-redis-sg-tf", "homu-alb-sg-tf", "homu-backend-sg-tf"}


def test_the_scan_passes_and_the_one_new_exception_is_the_kept_registry_encryption(adopted, synth, tmp_path):
    result = scan(*(adopted[name].directory for name in STACKS))
    assert result.returncode == 0, result.stdout + result.stderr
    guide = synth(**GUIDE)
    new = {
        (name, address, check)
        for name in STACKS
        for address, skips in adopted[name].exceptions().items()
        for check in skips
    } - {
        (name, address, check)
        for name in STACKS
        for address, skips in guide[name].exceptions().items()
        for check in skips
    }
    assert new == {(FARGATE_STACK, REPOSITORY.split(".")[1], "CKV_AWS_136")}
    # Without it, the scan fails on exactly that check.
    target = tmp_path / FARGATE_STACK
    shutil.copytree(adopted[FARGATE_STACK].directory, target, symlinks=True)
    config = json.loads((target / "cdk.tf.json").read_text())
    del config["resource"]["aws_ecr_repository"][REPOSITORY.split(".")[1]]["//"][SKIP_KEY]["CKV_AWS_136"]
    (target / "cdk.tf.json").write_text(json.dumps(config))
    red = scan(target)
    assert red.returncode == 1
    assert {check for check, _ in failures(red.stdout)} == {"CKV_AWS_136"}


def test_an_address_the_stack_lacks_fails_naming_the_setting(synth):
    with pytest.raises(SettingsError) as error:
        synth(adoption={"imports": {DATA_STACK: {"aws_db_instance.nope": "homu-db"}}})
    expected = (
        "setting adoption.imports.homu-data: aws_db_instance.nope is not a resource of homu-data; "
        "allowed: its addresses (`python -m tools.adopt` writes them)"
    )
    assert error.value.lines == [expected]


@pytest.mark.parametrize(
    ("adoption", "named"),
    [
        ({"imports": {"homu-state": {"aws_s3_bucket.x": "b"}}}, "homu-state"),
        ({"imports": {DATA_STACK: {"not an address": "x"}}}, "not an address"),
        ({"registry_encryption": "DES"}, "'KMS' or 'AES256'"),
        ({"group_name_suffix": "_old"}, "_old"),
    ],
)
def test_bad_adoption_settings_give_one_line_naming_the_key(adoption, named):
    with pytest.raises(SettingsError) as error:
        validate({"adoption": adoption})
    (line,) = error.value.lines
    assert line.startswith("setting adoption.") and named in line


def test_a_group_still_in_use_loses_only_its_opening_to_the_world_on_22_and_8000():
    rule = {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "203.0.113.7/32"}],
        "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}],
    }
    assert world_opening(rule) == {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        "Ipv6Ranges": [],
    }
    assert world_opening({**rule, "FromPort": 443, "ToPort": 443}) is None
    assert world_opening({**rule, "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}) is None


def test_the_guide_is_replayed_only_into_a_served_emulator(capsys):
    with pytest.raises(SystemExit) as exit_:
        rehearsal(["--guide"])
    assert exit_.value.code == 2
    assert "--guide: only with --serve" in capsys.readouterr().err


def _change(actions, *, importing=True, before=None, after=None, replace_paths=None):
    change = {"actions": actions, "before": before or {}, "after": after or {}, "after_unknown": {}}
    if importing:
        change["importing"] = {"id": "x"}
    if replace_paths:
        change["replace_paths"] = replace_paths
    return change


def test_the_action_and_the_attribute_that_decides_it_come_from_the_plan():
    assert action(_change(["no-op"])) == ("import unchanged", "")
    assert action(_change(["update"], before={"port": 5432, "a": 1}, after={"port": 5433, "a": 1})) == (
        "import, update in place",
        "port",
    )
    assert action(_change(["delete", "create"], replace_paths=[["kms_key_id"]])) == (
        "import, replace",
        "kms_key_id",
    )
    assert action(_change(["create"], importing=False)) == ("create", "")


def test_an_update_in_place_says_what_the_users_notice_first():
    change = _change(
        ["update"],
        before={
            "manage_master_user_password": None,
            "parameter_group_name": "default.postgres15",
            "port": 5432,
        },
        after={"manage_master_user_password": True, "parameter_group_name": "homu-db-pg15", "port": 5432},
    )
    plan = {
        "resource_changes": [
            {"mode": "managed", "type": "aws_db_instance", "address": DATABASE, "change": change}
        ]
    }
    (row,) = rows(DATA_STACK, plan, {DATABASE: ("homu-db", "RDS postgres 15.4")})
    assert (row.name, row.action) == ("homu-db", "import, update in place")
    assert row.because == "manage_master_user_password, parameter_group_name"
    assert "a new password" in cost(row) and "next reboot" in cost(row)


def _row(address, name, act="import, replace"):
    return Row(DATA_STACK, address, name, "found", act, "kms_key_id")


def test_data_is_never_replaced_even_with_the_flag_and_the_cache_only_with_it():
    database = _row(DATABASE, "homu-db")
    cache = _row("aws_elasticache_replication_group.cache", "homu-redis")
    (line,) = refusals([database], allowed={"homu-db"}, images={})
    assert "homu-db" in line and "kms_key_id" in line and "snapshot" in line
    (line,) = refusals([cache], allowed=set(), images={})
    assert "--replace homu-redis" in line and "cold cache" in line
    assert refusals([cache], allowed={"homu-redis"}, images={}) == []
    # A repository with images is data; an empty one is not.
    assert refusals([_row(REPOSITORY, "homu-backend")], allowed=set(), images={"homu-backend": 2})
    assert (
        refusals([_row(REPOSITORY, "homu-backend")], allowed={"homu-backend"}, images={"homu-backend": 0})
        == []
    )
    # What is created, or changed in place, is never refused.
    assert refusals([_row(DATABASE, "homu-db", "import, update in place")], allowed=set(), images={}) == []


@pytest.mark.rehearsal(ADOPTION_LANE)
def test_the_guide_built_deployment_is_adopted_with_its_data_and_its_open_ports_retired(rehearsals):
    run = rehearsals.finished(ADOPTION_LANE)
    assert run.report is not None, run.explain()
    observed = run.report["observed"]
    assert "error" not in observed, run.explain()
    done = {step["step"]: step for step in run.report["steps"]}
    assert list(done)[: len(COMMANDS)] == list(COMMANDS), run.explain()
    tails = {name: "\n".join(step["tail"]) for name, step in done.items()}
    applied = {
        name: [line for line in step["summary"] if line.startswith("Apply complete!")]
        for name, step in done.items()
    }

    # Refusals: an attribute no setting mirrors, and replacements nobody accepted; nothing written.
    assert done["adopt the unencrypted decoy"]["exit"] == 1
    assert "homu-db-old" in tails["adopt the unencrypted decoy"]
    assert "storage_encrypted" in tails["adopt the unencrypted decoy"]
    assert "snapshot" in tails["adopt the unencrypted decoy"]
    assert observed["decoy file"] is None
    refused = tails["adopt without flags, read-only"]
    assert done["adopt without flags, read-only"]["exit"] == 1
    assert "--replace homu-redis" in refused and "--new-secret-key" in refused
    assert "error" not in refused.lower() and "denied" not in refused.lower()
    assert observed["file after refusal"] is None

    # Read-only (ReadOnlyAccess under IAM enforcement, nothing in the state bucket), and idempotent.
    for name in (
        "adopt",
        "adopt again",
        "adopt the computes",
        "retire, listed",
        "retire",
    ):
        assert done[name]["exit"] == 0, (name, tails[name])
    assert observed["read-only keys denied a write"] is True
    # Nothing written into the state bucket either (no empty state for a stack never deployed).
    assert observed["state objects after adopt"] == []
    assert observed["adopt twice identical"] is True

    # The deploys imported the data holders, replaced none of them.
    assert applied["data"] == ["Apply complete! Resources: 2 imported, 30 added, 1 changed, 1 destroyed."]
    assert (
        applied["computes"][-1] == "Apply complete! Resources: 6 imported, 38 added, 5 changed, 1 destroyed."
    )
    assert observed["database after"] == observed["database before"]
    # A deploy cut short: what exists but the state lost is found under its name and imported, unchanged.
    assert observed["forgotten"] == sorted(FORGOTTEN)
    for address in FORGOTTEN:
        assert f"{address}" in tails["adopt after a cut-short deploy"]
    assert "Apply complete! Resources: 2 imported, 0 added, 0 changed, 0 destroyed." in applied["repair"]
    assert set(observed["images before"]) <= set(observed["images after"]) and observed["images before"]

    # Retired: the rules open to the world go with the guide's groups; the decoys stay as they were.
    assert observed["world open before"] == [
        "homu-backend-sg",
        "homu-db-sg-old",
        "launch-wizard-1",
        "launch-wizard-1",
    ]
    assert observed["world open after listing"] == observed["world open before"]
    assert observed["world open after retire"] == ["homu-db-sg-old"]
    assert observed["decoys after"] == observed["decoys before"]
    assert observed["guide secrets left"] == ["homu/db-url-old"]
    assert observed["target groups after retire"] == ["homu-alb-tg"]

    # Re-planned clean: every resource of the three stacks managed and unchanged, nothing to retire.
    final = tails["adopt after the retire step"]
    assert done["adopt after the retire step"]["exit"] == 0, final
    for stack, count in ((DATA_STACK, 31), (FARGATE_STACK, 43), ("homu-ec2", 22)):
        assert f"{stack}:\n  = {count} already managed and unchanged" in final, final
    assert "retire after the switch-over" not in final
