"""python -m tools.drift: findings from Terraform's plan JSON (drift apart from pending changes, in
plain words with the fix), the exit codes, the text, and the GitHub issues the workflow keeps.

The plans here have the shape Terraform 1.11's ``terraform show -json`` gives (``resource_drift``,
``resource_changes``, ``prior_state``), cut to the attributes that matter; the adoption lane runs the
tool on a deployed emulator (``tests/day_two.py``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from tools.drift.__main__ import main
from tools.drift.drift import StackReport, exit_code
from tools.drift.findings import findings
from tools.drift.github import MARKER, body, sync, title
from tools.drift.report import text

DB_GROUP = "sg-0db"
APP_GROUP = "sg-0app"
GROUP = "aws_security_group.security-groups_database_D8550215"
ADMITS_APP = {
    "description": "",
    "from_port": 5432,
    "to_port": 5432,
    "protocol": "tcp",
    "cidr_blocks": [],
    "ipv6_cidr_blocks": [],
    "prefix_list_ids": [],
    "security_groups": [APP_GROUP],
    "self": False,
}
HAND_MADE = {**ADMITS_APP, "security_groups": [], "cidr_blocks": ["198.51.100.0/24"]}
# The rule that admits the app, kept by homu-fargate as a resource of its own.
FARGATE_RULE = (
    "aws_vpc_security_group_ingress_rule",
    {"security_group_id": DB_GROUP, "ip_protocol": "tcp", "from_port": 5432, "to_port": 5432,
     "referenced_security_group_id": APP_GROUP},
)  # fmt: skip


def group(ingress: list[dict[str, Any]], **tags: str) -> dict[str, Any]:
    return {"id": DB_GROUP, "name": "homu-db-sg", "ingress": ingress, "tags": {"Name": "homu-db-sg", **tags}}


def entry(address: str, actions: list[str], before: Any, after: Any, **change: Any) -> dict[str, Any]:
    type_, name = address.split(".")
    return {"address": address, "mode": "managed", "type": type_, "name": name,
            "change": {"actions": actions, "before": before, "after": after, **change}}  # fmt: skip


def plan(drift: list[dict], changes: list[dict] = ()) -> dict[str, Any]:
    return {"resource_drift": drift, "resource_changes": list(changes)}


def test_a_rule_added_by_hand_is_drift_with_the_command_that_removes_it():
    """The group's rules other than the one the compute stack manages: only the hand-made one."""
    drifted = plan([entry(GROUP, ["update"], group([]), group([ADMITS_APP, HAND_MADE]))])
    (finding,) = findings("homu-data", drifted, [FARGATE_RULE])
    assert (finding.kind, finding.name, finding.address, finding.attribute) == (
        "drift", "homu-db-sg", GROUP, "ingress"
    )  # fmt: skip
    assert finding.sentence == (
        "homu-db-sg: an ingress rule 5432/tcp from 198.51.100.0/24 exists that the code does not have; "
        "added outside Terraform"
    )
    assert finding.fix.endswith(
        "aws ec2 revoke-security-group-ingress --group-id sg-0db "
        "--ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[{CidrIp=198.51.100.0/24}]'"
    )


def test_without_the_other_stacks_rules_their_rule_would_read_as_drift():
    """Why the tool reads every deployed stack's state: the computes' rules sit on homu-data's groups."""
    drifted = plan([entry(GROUP, ["update"], group([]), group([ADMITS_APP]))])
    assert findings("homu-data", drifted, [FARGATE_RULE]) == []
    (finding,) = findings("homu-data", drifted, [])
    assert "from sg-0app" in finding.sentence


def test_a_changed_tag_the_deploy_puts_back_is_drift_not_pending():
    before, after = group([], Owner="team"), group([], Owner="alice")
    drifted = plan(
        [entry(GROUP, ["update"], before, after)],
        [entry(GROUP, ["update"], after, before, after_unknown={})],
    )
    (finding,) = findings("homu-data", drifted)
    assert (finding.kind, finding.attribute, finding.before, finding.after) == (
        "drift",
        "tags.Owner",
        "team",
        "alice",
    )
    assert finding.sentence == 'homu-db-sg: tag Owner changed from "team" to "alice" outside Terraform'
    assert finding.fix.startswith("the next deploy puts it back (python -m tools.cdktf deploy homu-data)")


def test_a_code_change_alone_is_pending_and_exits_clean():
    log = "aws_cloudwatch_log_group.app-logs"
    changed = plan(
        [],
        [entry(log, ["update"], {"name": "/ecs/homu-backend", "retention_in_days": 30},
               {"name": "/ecs/homu-backend", "retention_in_days": 60}, after_unknown={})],
    )  # fmt: skip
    (finding,) = findings("homu-fargate", changed)
    assert (finding.kind, finding.attribute, finding.before, finding.after) == (
        "pending",
        "retention_in_days",
        30,
        60,
    )
    assert finding.sentence == "/ecs/homu-backend: the code changes retention_in_days from 30 to 60"
    assert exit_code([StackReport("homu-fargate", "clean", [finding])]) == 0


def test_what_aws_changes_on_its_own_is_not_drift():
    """Attributes the code leaves to AWS (not put back by the plan), and null read back as []."""
    db = "aws_db_instance.database_instance_D7FC2283"
    alarm = "aws_cloudwatch_metric_alarm.monitoring_database-cpu_1"
    quiet = plan([
        entry(db, ["update"], {"identifier": "homu-db", "latest_restorable_time": "20:50:58Z"},
              {"identifier": "homu-db", "latest_restorable_time": "20:53:21Z"}),
        entry(alarm, ["update"], {"alarm_name": "homu-db-cpu-high", "insufficient_data_actions": None},
              {"alarm_name": "homu-db-cpu-high", "insufficient_data_actions": []}),
    ])  # fmt: skip
    assert findings("homu-data", quiet) == []


def test_a_resource_deleted_by_hand_is_drift_and_its_re_creation_not_pending():
    rule = "aws_vpc_security_group_ingress_rule.admits_app"
    values = {**FARGATE_RULE[1], "id": "sgr-1", "tags": {"Name": "database-from-app"}}
    deleted = plan(
        [entry(rule, ["delete"], values, None), entry(GROUP, ["update"], group([ADMITS_APP]), group([]))],
        [entry(rule, ["create"], None, values)],
    )
    # The group lost the rule too: said once, on the rule's own resource.
    (finding,) = findings("homu-fargate", deleted)
    assert (finding.kind, finding.address, finding.attribute) == ("drift", rule, None)
    assert finding.sentence == "database-from-app: deleted outside Terraform"
    assert "creates it again" in finding.fix


def test_a_policy_attached_by_hand_is_drift_with_the_command_that_detaches_it():
    role = "aws_iam_role.service_execution-role_C3456AA3"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    managed = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    before = {"name": "homu-backend-execution", "managed_policy_arns": [], "inline_policy": []}
    after = {**before, "managed_policy_arns": [managed, admin]}
    attachment = ("aws_iam_role_policy_attachment", {"role": "homu-backend-execution", "policy_arn": managed})
    (finding,) = findings("homu-fargate", plan([entry(role, ["update"], before, after)]), [attachment])
    assert finding.sentence == (
        f"homu-backend-execution: an attachment of the managed policy {admin} exists that the code does "
        "not have; added outside Terraform"
    )
    assert finding.fix.endswith(
        f"aws iam detach-role-policy --role-name homu-backend-execution --policy-arn {admin}"
    )


def test_a_replacement_names_the_arguments_that_force_it():
    host = "aws_instance.host_instance_168AED24"
    before = {
        "id": "i-1",
        "tags": {"Name": "homu-backend"},
        "user_data": "a",
        "hibernation": False,
        "arn": "x",
    }
    after = {"tags": {"Name": "homu-backend"}, "user_data": "b", "hibernation": None}
    replaced = plan(
        [],
        [entry(host, ["delete", "create"], before, after, after_unknown={"arn": True, "id": True},
               replace_paths=[["user_data"]])],
    )  # fmt: skip
    (finding,) = findings("homu-ec2", replaced)
    assert (finding.name, finding.attribute, finding.kind) == ("homu-backend", "user_data", "pending")
    assert finding.fix == "python -m tools.cdktf deploy homu-ec2 applies it by replacing the resource"


@pytest.mark.parametrize(
    ("statuses", "code"),
    [(["clean", "not deployed"], 0), (["clean", "drifted"], 2), (["drifted", "error"], 1)],
)
def test_exit_codes_follow_detailed_exitcode(statuses, code):
    assert exit_code([StackReport(f"s{i}", s) for i, s in enumerate(statuses)]) == code


def test_the_text_says_per_stack_what_drifted_and_what_is_pending():
    drifted = plan([entry(GROUP, ["update"], group([]), group([HAND_MADE]))])
    report = StackReport("homu-data", "drifted", findings("homu-data", drifted), seconds=14.2)
    lines = text([report, StackReport("homu-ec2", "not deployed")])
    assert lines[0] == "homu-data: DRIFTED, 1 change made outside Terraform (14 s)"
    assert lines[1].startswith("  drift    homu-db-sg: an ingress rule 5432/tcp from 198.51.100.0/24")
    assert lines[2] == f"           {GROUP} · ingress"
    assert lines[3].startswith("           fix: ")
    assert lines[4] == "homu-ec2: not deployed"


def test_an_unknown_stack_is_one_line_naming_it(capsys):
    assert main(["homu-dta"]) == 1
    assert capsys.readouterr().err == (
        "error: STACK 'homu-dta' is not one of homu-data, homu-fargate, homu-ec2\n"
    )


# --- the issues the scheduled workflow keeps ---------------------------------------------------------


class FakeGitHub(BaseHTTPRequestHandler):
    """The issues endpoints of one repository, in memory."""

    issues: ClassVar[dict[int, dict[str, Any]]] = {}
    calls: ClassVar[list[tuple[str, str]]] = []

    def _answer(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        self.calls.append(("GET", self.path))
        assert self.headers["Authorization"] == "Bearer t0ken"
        self._answer([i for i in self.issues.values() if i["state"] == "open" and "drift" in i["labels"]])

    def do_POST(self) -> None:
        self.calls.append(("POST", self.path))
        payload = self._body()
        if self.path.endswith("/comments"):
            self._answer({"id": 1}, 201)
            return
        number = len(self.issues) + 1
        self.issues[number] = {"number": number, "state": "open", **payload}
        self._answer(self.issues[number], 201)

    def do_PATCH(self) -> None:
        self.calls.append(("PATCH", self.path))
        number = int(self.path.rsplit("/", 1)[1])
        self.issues[number].update(self._body())
        self._answer(self.issues[number])

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def github():
    FakeGitHub.issues, FakeGitHub.calls = {}, []
    server = HTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"GITHUB_TOKEN": "t0ken", "GITHUB_REPOSITORY": "octo/homu",
           "GITHUB_API_URL": f"http://127.0.0.1:{server.server_port}"}  # fmt: skip
    server.shutdown()


def drift_report(*stacks: tuple[str, str]) -> dict[str, Any]:
    drifted = plan([entry(GROUP, ["update"], group([]), group([HAND_MADE]))])
    return {
        "stacks": [
            StackReport(name, status, findings(name, drifted) if status == "drifted" else []).to_json()
            for name, status in stacks
        ]
    }


def test_a_drifted_stack_gets_one_issue_kept_up_to_date_and_closed_when_clean(github):
    opened = sync(
        drift_report(("homu-data", "drifted"), ("homu-ec2", "clean")), environment="dev", env=github
    )
    assert opened == ["homu-data: opened #1"]
    issue = FakeGitHub.issues[1]
    assert issue["title"] == title("homu-data", "dev") == "Drift: homu-data (dev)"
    assert issue["labels"] == ["drift"] and issue["body"].startswith(MARKER)
    assert "198.51.100.0/24" in issue["body"]

    # The same findings the next day: nothing written; other findings: the body is edited.
    assert sync(drift_report(("homu-data", "drifted")), environment="dev", env=github) == [
        "homu-data: #1 unchanged"
    ]
    assert sync(drift_report(("homu-data", "error")), environment="dev", env=github) == [
        "homu-data: #1 left open (the stack could not be planned)"
    ]
    assert sync(drift_report(("homu-data", "clean")), environment="dev", env=github) == [
        "homu-data: closed #1 (no drift any more)"
    ]
    assert FakeGitHub.issues[1]["state"] == "closed"
    assert ("POST", "/repos/octo/homu/issues/1/comments") in FakeGitHub.calls
    # Drift again later: a new issue, the closed one stays closed.
    assert sync(drift_report(("homu-data", "drifted")), environment="dev", env=github) == [
        "homu-data: opened #2"
    ]


def test_an_issue_without_the_marker_is_not_the_workflows(github):
    FakeGitHub.issues[1] = {"number": 1, "state": "open", "labels": ["drift"],
                            "title": "Drift: homu-data (dev)", "body": "written by a person"}  # fmt: skip
    assert sync(drift_report(("homu-data", "clean")), environment="dev", env=github) == []
    assert FakeGitHub.issues[1]["state"] == "open"


def test_issue_bodies_cannot_be_broken_by_what_aws_returns():
    report = drift_report(("homu-data", "drifted"))["stacks"][0]
    report["drift"][0]["sentence"] = "a | b `c` <img src=x>\nd"
    row = body(report, None).splitlines()[5]
    assert "<img" not in row and "`c`" not in row and row.count(" | ") == 3


def test_the_issues_need_a_token_and_a_repository():
    with pytest.raises(Exception, match="GITHUB_TOKEN and GITHUB_REPOSITORY must be set"):
        sync({"stacks": []}, environment="dev", env={})
