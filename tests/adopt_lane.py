"""The adoption lane: the guide's console deployment replayed on the served emulator, then
docs/adopting.md as a user types it.

    python -m tests.adopt_lane REPORT

``python -m tools.rehearsal --serve --guide`` holds the guide's deployment (both options, default VPC,
an image in ECR, the rules it opens) and decoys with similar names. The lane runs ``COMMANDS`` in order
in a copy of the project and looks at the emulator with boto3 in between: the database's identity and
the images before and after, what the decoys hold, the rules open to the world after the retire step.
``adopt`` also runs once with an IAM user's keys that have only ``ReadOnlyAccess``, with the emulator
enforcing IAM. ``tests/test_adopt.py`` asserts on the report. Day two (``tests/day_two.py``: doctor and
drift, with hand edits) follows on the same deployment.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests import day_two
from tests.cli_lane import Lane, main
from tools.adopt.guide import WORLD_OPEN_PORTS
from tools.rehearsal.emulator import emulator_client

ADOPTED = "environments/adopted.json"
FLAGS = "--replace homu-redis --replace homu-backend-service --new-secret-key"
ON_ADOPTED = f"HOMU_SETTINGS_FILE={ADOPTED}"
COMMANDS = {
    "state": "python -m tools.cdktf deploy homu-state",
    "adopt without flags, read-only": "python -m tools.adopt",
    "adopt the unencrypted decoy": "HOMU_DB_IDENTIFIER=homu-db-old python -m tools.adopt --output decoy.json",
    "adopt": "python -m tools.adopt --replace homu-redis --new-secret-key",
    "adopt again": "python -m tools.adopt --replace homu-redis --new-secret-key",
    "data": f"{ON_ADOPTED} python -m tools.cdktf deploy homu-data",
    "adopt the computes": f"{ON_ADOPTED} python -m tools.adopt {FLAGS}",
    "computes": f"{ON_ADOPTED} python -m tools.cdktf deploy homu-data homu-fargate homu-ec2",
    "adopt after a cut-short deploy": f"{ON_ADOPTED} python -m tools.adopt {FLAGS}",
    "repair": f"{ON_ADOPTED} python -m tools.cdktf deploy homu-data homu-fargate",
    "retire, listed": f"{ON_ADOPTED} python -m tools.adopt retire",
    "retire": f"{ON_ADOPTED} python -m tools.adopt retire --yes",
    # A re-plan of all three stacks: everything already managed and unchanged, nothing left to retire.
    "adopt after the retire step": f"{ON_ADOPTED} python -m tools.adopt {FLAGS}",
}
READER = "adopt-reader"
# What a deploy cut short leaves created but unrecorded (FACTS: Terraform's first SIGINT can lose them).
FORGOTTEN = ("aws_ecs_cluster.service_cluster_B81F1F5D", "aws_iam_role.service_execution-role_C3456AA3")


class AdoptionLane(day_two.DayTwo, Lane):
    # Then day two on what the adoption leaves deployed (tests/day_two.py).
    commands = COMMANDS | day_two.COMMANDS
    serve_arguments = ("--guide",)
    label = "adoption"

    def database(self) -> dict[str, Any]:  # type: ignore[override]
        db = self.client("rds").describe_db_instances(DBInstanceIdentifier="homu-db")["DBInstances"][0]
        return {k: str(db[k]) for k in ("DBInstanceArn", "InstanceCreateTime", "DbiResourceId")}

    def images(self) -> list[str]:
        images = self.client("ecr").list_images(repositoryName="homu-backend")["imageIds"]
        return sorted(i["imageDigest"] for i in images)

    def world_open(self) -> list[str]:
        """Every group with a rule open to the world on 22 or 8000, by name."""
        return sorted(
            g["GroupName"]
            for g in self.client("ec2").describe_security_groups()["SecurityGroups"]
            for rule in g["IpPermissions"]
            if any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", []))
            and any(rule.get("FromPort", 0) <= p <= rule.get("ToPort", 65535) for p in WORLD_OPEN_PORTS)
        )

    def decoys(self) -> dict[str, Any]:
        ec2 = self.client("ec2")
        group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["homu-db-sg-old"]}])
        return {
            "database": self.client("rds").describe_db_instances(DBInstanceIdentifier="homu-db-old")[
                "DBInstances"
            ][0]["DBInstanceStatus"],
            "repository": self.client("ecr").describe_repositories(repositoryNames=["homu-backend-old"])[
                "repositories"
            ][0]["repositoryName"],
            "group rules": len(group["SecurityGroups"][0]["IpPermissions"]),
            "secret": self.client("secretsmanager").describe_secret(SecretId="homu/db-url-old")["Name"],
        }

    def file(self, name: str) -> str | None:
        path = self.project / name
        return path.read_text() if path.exists() else None

    def enforce_iam(self, on: bool) -> None:
        """moto's run-time switch: every request is checked (on), or none (off, serve's default)."""
        # The body is the new INITIAL_NO_AUTH_ACTION_COUNT, as plain text (a form body reads as empty).
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0" if on else b"inf",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30).read()

    @contextmanager
    def read_only(self) -> Iterator[dict[str, str]]:
        """The keys of an IAM user with only ``ReadOnlyAccess`` in the commands' environment, while the
        emulator enforces IAM; yields the keys."""
        iam = self.client("iam")
        if READER not in [user["UserName"] for user in iam.list_users()["Users"]]:
            iam.create_user(UserName=READER)
            iam.attach_user_policy(UserName=READER, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        key = iam.create_access_key(UserName=READER)["AccessKey"]
        keys = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        admin = dict(self.env)
        self.env = {k: v for k, v in self.env.items() if k != "AWS_SESSION_TOKEN"} | keys
        self.enforce_iam(True)
        try:
            yield keys
        finally:
            self.enforce_iam(False)
            self.env = admin

    def forget(self, stack: str, addresses: tuple[str, ...]) -> list[str]:
        """Removes resources from a stack's state object, as a deploy cut short leaves it."""
        s3, key = self.client("s3"), f"dev/{stack}/terraform.tfstate"
        state = json.loads(s3.get_object(Bucket="homu-terraform-state", Key=key)["Body"].read())
        kept = [r for r in state["resources"] if f"{r['type']}.{r['name']}" not in addresses]
        forgotten = sorted(f"{r['type']}.{r['name']}" for r in state["resources"] if r not in kept)
        state["resources"], state["serial"] = kept, state["serial"] + 1
        s3.put_object(Bucket="homu-terraform-state", Key=key, Body=json.dumps(state).encode())
        return forgotten

    def state_objects(self) -> list[str]:
        listed = self.client("s3").list_objects_v2(Bucket="homu-terraform-state").get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def denied_a_write(self, keys: dict[str, str]) -> bool:
        """Whether IAM is enforced for these keys: a write the read-only policy lacks must fail."""
        from botocore.exceptions import ClientError

        try:
            emulator_client("ec2", self.url, self.env["AWS_REGION"], keys).create_security_group(
                GroupName="written-by-the-reader", Description="must be denied"
            )
        except ClientError as error:
            return "denied" in str(error).lower() or "not authorized" in str(error).lower()
        return False

    def start_emulator(self) -> None:
        super().start_emulator()
        self.env["GOGC"] = "400"  # as the rehearsal's own Terraform runs: a quarter less CPU per command

    def walk(self) -> None:
        self.observe("database before", self.database())
        self.observe("images before", self.images())
        self.observe("decoys before", self.decoys())
        self.observe("world open before", self.world_open())
        self.run("state")
        # First of all, so that nothing written by an earlier run spares it a write: every read and
        # the plan succeed with ReadOnlyAccess, and the refusal is adopt's own, not a denial.
        with self.read_only() as keys:
            self.run("adopt without flags, read-only")
            self.observe("read-only keys denied a write", self.denied_a_write(keys))
        self.observe("state objects after adopt", self.state_objects())
        self.observe("file after refusal", self.file(ADOPTED))
        self.run("adopt the unencrypted decoy")
        self.observe("decoy file", self.file("decoy.json"))

        self.run("adopt")
        first = self.file(ADOPTED)
        self.run("adopt again")
        self.observe("adopt twice identical", first is not None and first == self.file(ADOPTED))
        self.run("data")
        self.run("adopt the computes")
        self.run("computes")
        self.observe("database after", self.database())
        self.observe("images after", self.images())
        self.observe("world open after deploy", self.world_open())
        self.observe("forgotten", self.forget("homu-fargate", FORGOTTEN))
        self.run("adopt after a cut-short deploy")
        self.run("repair")
        self.run("retire, listed")
        self.observe("world open after listing", self.world_open())
        self.run("retire")
        self.observe("world open after retire", self.world_open())
        groups = self.client("elbv2").describe_target_groups()["TargetGroups"]
        self.observe("target groups after retire", sorted(g["TargetGroupName"] for g in groups))
        self.observe("decoys after", self.decoys())
        self.observe(
            "guide secrets left",
            sorted(
                s["Name"]
                for s in self.client("secretsmanager").list_secrets()["SecretList"]
                if s["Name"].startswith("homu/") and not s.get("DeletedDate")
            ),
        )
        self.run("adopt after the retire step")
        self.day_two()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.adopt_lane REPORT")
    main(Path(sys.argv[1]), AdoptionLane)
