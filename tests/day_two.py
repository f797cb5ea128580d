"""Day two, on the deployment the adoption lane leaves (the three stacks deployed and re-planned clean):
docs/operating.md as a user types it, with hand edits made through the API as someone in the console
would make them.

- ``doctor`` with ``ReadOnlyAccess`` keys while the emulator enforces IAM: no problem on the healthy
  deployment, and no call denied;
- ``drift``: clean; then a rule admitting 198.51.100.0/24 on 5432 and a changed ``Name`` tag on the
  database's group: drifted, both named; both undone and a setting changed: no drift, the setting's
  changes pending;
- ``doctor`` again after four faults: a task definition whose image tag is not in ECR, a Deny on the
  secrets for the execution role, the database group's 5432 rule removed, the database stopped.

``tests/test_day_two.py`` asserts on the report.
"""

from __future__ import annotations

import json
from typing import Any

from tools.rehearsal.least_privilege import switch_image

ON_ADOPTED = "HOMU_SETTINGS_FILE=environments/adopted.json"
COMMANDS = {
    "doctor, healthy, read-only": f"{ON_ADOPTED} python -m tools.doctor",
    "drift, clean": f"{ON_ADOPTED} python -m tools.drift",
    "drift, changed by hand": f"{ON_ADOPTED} python -m tools.drift homu-data",
    "drift, put back and a setting changed": (
        f"{ON_ADOPTED} HOMU_LOG_RETENTION_DAYS=60 python -m tools.drift homu-data --report drift.json"
    ),
    "doctor, four faults": f"{ON_ADOPTED} python -m tools.doctor homu-fargate",
}
OFFICE = "198.51.100.0/24"
MISSING_TAG = "not-pushed"
DENY_SECRETS = "deny-secrets"


class DayTwo:
    """Mixed into the adoption lane: its ``client``, ``run``, ``observe``, ``file`` and ``read_only``."""

    def database_group(self) -> str:
        db = self.client("rds").describe_db_instances(DBInstanceIdentifier="homu-db")["DBInstances"][0]
        return db["VpcSecurityGroups"][0]["VpcSecurityGroupId"]

    def service(self) -> dict[str, Any]:
        ecs = self.client("ecs")
        (arn,) = ecs.list_services(cluster="homu-cluster")["serviceArns"]
        return ecs.describe_services(cluster="homu-cluster", services=[arn])["services"][0]

    def edit_by_hand(self, undo: bool = False) -> None:
        """The rule from the office and the renamed group, or (``undo``) both taken back."""
        ec2, group = self.client("ec2"), self.database_group()
        rule = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": OFFICE}]}]
        name = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["GroupName"]
        if undo:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=rule)
            ec2.create_tags(Resources=[group], Tags=[{"Key": "Name", "Value": name}])
        else:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=rule)
            ec2.create_tags(Resources=[group], Tags=[{"Key": "Name", "Value": f"{name}-edited"}])

    def break_four_things(self) -> dict[str, Any]:
        """What the guide's troubleshooting list is about, made by hand. Returns what was broken."""
        ecs, iam, ec2 = self.client("ecs"), self.client("iam"), self.client("ec2")
        service = self.service()
        repository = self.client("ecr").describe_repositories(repositoryNames=["homu-backend"])[
            "repositories"
        ][0]
        # A deploy of a tag nobody pushed, as a hand-run `aws ecs update-service` would leave it.
        revision = switch_image(
            ecs, "homu-cluster", service["serviceName"], f"{repository['repositoryUri']}:{MISSING_TAG}"
        )
        task = ecs.describe_task_definition(taskDefinition=revision)["taskDefinition"]
        role = task["executionRoleArn"].rsplit("/", 1)[1]
        deny = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}  # fmt: skip
        iam.put_role_policy(RoleName=role, PolicyName=DENY_SECRETS, PolicyDocument=json.dumps(deny))

        group, app_groups = (
            self.database_group(),
            service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"],
        )
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])[
            "SecurityGroupRules"
        ]
        revoked = [
            r["SecurityGroupRuleId"]
            for r in rules
            if not r["IsEgress"] and r.get("FromPort") == 5432
            and r.get("ReferencedGroupInfo", {}).get("GroupId") in app_groups
        ]  # fmt: skip
        ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=revoked)

        self.client("rds").stop_db_instance(DBInstanceIdentifier="homu-db")
        return {
            "task definition": revision,
            "execution role": role,
            "rules revoked": len(revoked),
            "database group": group,
        }

    def day_two(self) -> None:
        with self.read_only():
            self.run("doctor, healthy, read-only", whole_output=True)
        self.run("drift, clean", whole_output=True)
        self.edit_by_hand()
        self.observe("database group", self.database_group())
        self.run("drift, changed by hand", whole_output=True)
        self.edit_by_hand(undo=True)
        self.run("drift, put back and a setting changed", whole_output=True)
        self.observe("drift report", json.loads(self.file("drift.json") or "null"))
        self.observe("broken", self.break_four_things())
        self.run("doctor, four faults", whole_output=True)
