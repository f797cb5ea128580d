"""Day two on a deployed emulator (the adoption lane's deployment, ``tests/day_two.py``): the doctor
with read-only keys under IAM enforcement finds nothing wrong on the healthy deployment and the right
problem with the right fix for each of four faults made by hand; drift names a hand-made rule and a
changed tag by resource and attribute, is clean again once they are undone, and calls a setting
changed in the code pending, not drift."""

from __future__ import annotations

import pytest

from tests.day_two import DENY_SECRETS, MISSING_TAG, OFFICE
from tests.rehearsals import ADOPTION_LANE

DATABASE_GROUP = "aws_security_group.security-groups_database_D8550215"


@pytest.fixture(scope="module")
def day_two(rehearsals):
    run = rehearsals.finished(ADOPTION_LANE)
    assert run.report is not None, run.explain()
    assert "error" not in run.report["observed"], run.explain()
    done = {step["step"]: step for step in run.report["steps"]}
    return run, done, {name: "\n".join(step["tail"]) for name, step in done.items()}


def problems(text: str) -> list[str]:
    return [line.split(None, 2)[2] for line in text.splitlines() if line.lstrip().startswith("problem ")]


@pytest.mark.rehearsal(ADOPTION_LANE)
def test_the_doctor_finds_nothing_wrong_on_a_healthy_deployment_with_read_only_keys(day_two):
    run, done, tails = day_two
    healthy = tails["doctor, healthy, read-only"]
    assert done["doctor, healthy, read-only"]["exit"] == 0, run.explain()
    assert problems(healthy) == []
    # No call was denied: ReadOnlyAccess covers every question (IAM enforced by the emulator).
    assert "denied" not in healthy.lower() and "error" not in healthy.lower()
    assert "summary: 37 ok, 0 problems, 3 could not check (homu-fargate, homu-ec2)" in healthy
    # What the emulator cannot show is said, never alarmed on: no task runs there, no unit is read.
    assert sum(line.lstrip().startswith("could not check") for line in healthy.splitlines()) == 3


@pytest.mark.rehearsal(ADOPTION_LANE)
def test_four_faults_made_by_hand_each_get_their_diagnosis_and_fix(day_two):
    run, done, tails = day_two
    broken, faulty = run.report["observed"]["broken"], tails["doctor, four faults"]
    assert done["doctor, four faults"]["exit"] == 1, run.explain()
    assert broken["rules revoked"] == 1
    found = problems(faulty)
    assert len(found) == 4, faulty
    stopped, unreachable, image, secrets = found
    assert stopped.startswith("the database homu-db is available: homu-db is stopped")
    assert "fix: aws rds start-db-instance --region ap-northeast-2 --db-instance-identifier homu-db" in faulty
    assert f"no ingress rule of homu-db-sg-tf ({broken['database group']})" in unreachable
    assert "fix: python -m tools.cdktf deploy homu-fargate   (puts back the rule the stack owns)" in faulty
    assert f"homu-backend:{MISSING_TAG} is not in ECR" in image and "newest tags there: latest" in image
    assert "--name /homu/image-tag" in faulty
    assert f"denied by a statement of inline policy {DENY_SECRETS}" in secrets
    assert (
        f"fix: aws iam delete-role-policy --role-name {broken['execution role']} --policy-name {DENY_SECRETS}"
        in faulty
    )
    # The faults stay apart: the cache and the image pull are still fine.
    assert "ok               cache     the cache homu-redis is available" in faulty
    assert "ok               tasks     the execution role can pull the image" in faulty


@pytest.mark.rehearsal(ADOPTION_LANE)
def test_drift_names_a_hand_made_rule_and_tag_and_calls_a_code_change_pending(day_two):
    run, done, tails = day_two
    assert done["drift, clean"]["exit"] == 0, tails["drift, clean"]
    for stack in ("homu-data", "homu-fargate", "homu-ec2"):
        assert f"{stack}: no drift (" in tails["drift, clean"]

    changed = tails["drift, changed by hand"]
    assert done["drift, changed by hand"]["exit"] == 2, changed
    group = run.report["observed"]["database group"]
    assert "homu-data: DRIFTED, 2 changes made outside Terraform" in changed
    assert (
        f"homu-db-sg-tf: an ingress rule 5432/tcp from {OFFICE} exists that the code does not have; "
        "added outside Terraform"
    ) in changed
    assert f"{DATABASE_GROUP} · ingress" in changed and f"{DATABASE_GROUP} · tags.Name" in changed
    assert f"revoke-security-group-ingress --group-id {group}" in changed
    assert 'tag Name changed from "homu-db-sg-tf" to "homu-db-sg-tf-edited" outside Terraform' in changed

    # Undone by hand, and log_retention_days changed in the settings: no drift, three pending changes.
    report = run.report["observed"]["drift report"]
    assert done["drift, put back and a setting changed"]["exit"] == 0
    (data,) = report["stacks"]
    assert (data["stack"], data["status"], data["drift"]) == ("homu-data", "clean", [])
    assert {(p["attribute"], p["before"], p["after"]) for p in data["pending"]} == {
        ("retention_in_days", 30, 60)
    }
    assert sorted(p["name"] for p in data["pending"]) == [
        "/aws/rds/instance/homu-db/postgresql",
        "/aws/rds/instance/homu-db/upgrade",
        "/vpc/homu-dev/flow-logs",
    ]
