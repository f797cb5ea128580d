"""The doctor against a deployment made on the in-process emulator (tests/doctor_fixture.py): the
healthy one gives no problem, each fault made by hand gives its diagnosis and fix, stopped-task texts
are classified, and a read-only identity with IAM enforced runs it without a denial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.doctor_fixture import EXECUTION_POLICY, REGION, deploy, register
from tools.doctor import classify
from tools.doctor.__main__ import main
from tools.doctor.aws import Aws
from tools.doctor.bill import bill_checks
from tools.doctor.doctor import diagnose
from tools.doctor.fixes import Names
from tools.doctor.model import OK, PROBLEM, UNCHECKED
from tools.doctor.policy import Document, decide
from tools.doctor.tasks import events_check, running_check, stopped_check
from tools.rehearsal.emulator import Emulator, emulator_client

ADMIN = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# What the emulator cannot show, and so what a healthy emulated deployment leaves unanswered.
EMULATOR_GAPS = {
    "the service runs the tasks it wants",  # moto runs no task: 0 of 1 running, nothing failed
    "the load balancer finds the tasks healthy",  # so no target is registered
    "homu-backend.service is active on the host",  # needs ssm:SendCommand, a write
}


@pytest.fixture(scope="module")
def env():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ADMIN.items():
            patch.setenv(name, value)
        yield patch


@pytest.fixture(scope="module")
def emulator(env):
    with Emulator(REGION) as running:
        yield running


@pytest.fixture(scope="module")
def deployment(emulator):
    return deploy(emulator.client, emulator.url)


def run(deployment, stacks=()):
    return diagnose(Aws(deployment.settings), deployment.settings, list(stacks))


def problems(diagnosis, stack=None):
    return [c for c in diagnosis.problems if stack in (None, c.stack)]


def only(diagnosis, stack: str, words: str):
    [check] = [c for c in diagnosis.checks if c.stack == stack and words in c.title]
    return check


def test_the_healthy_deployment_gives_no_problem(deployment):
    diagnosis = run(deployment)
    assert diagnosis.stacks == ["homu-fargate", "homu-ec2"]
    assert problems(diagnosis) == []
    assert {c.title for c in diagnosis.checks if c.status == UNCHECKED} == EMULATOR_GAPS
    areas = {(c.stack, c.area) for c in diagnosis.checks if c.status == OK}
    assert areas == {(s, a) for s in ("homu-fargate", "homu-ec2") for a in ("database", "cache")} | {
        ("homu-fargate", "tasks"), ("homu-ec2", "host")}  # fmt: skip
    role = only(diagnosis, "homu-fargate", "read the secrets")
    assert "conditions not evaluated" in role.evidence and "kms:ViaService" in role.evidence


def test_a_task_definition_whose_image_tag_is_not_in_ecr(emulator, deployment):
    ids, ecs = deployment.ids, emulator.client("ecs")
    missing = ids["image"].replace(":v1", ":v9")
    arn = register(emulator.client, missing, f"arn:aws:iam::123456789012:role/{ids['execution_role']}",
                   ids["task_role"], deployment.outputs["homu-data"], f"{ids['secret']}:password::")  # fmt: skip
    ecs.update_service(cluster="homu-cluster", service="homu-backend-service", taskDefinition=arn)
    try:
        diagnosis = run(deployment, ["homu-fargate"])
    finally:
        ecs.update_service(
            cluster="homu-cluster", service="homu-backend-service", taskDefinition="homu-backend-task:1"
        )
    [found] = problems(diagnosis)
    assert found.title == "the image of homu-backend-task:2 is in ECR"
    assert "homu-backend:v9 is not in ECR" in found.evidence and "newest tags there: v1" in found.evidence
    assert "aws ssm put-parameter --region ap-northeast-2 --name /homu/image-tag" in found.fixes[0]


def _policy(emulator, drop: str = "") -> None:
    iam = emulator.client("iam")
    document = iam.get_role_policy(RoleName="homu-backend-task-execution", PolicyName=EXECUTION_POLICY)[
        "PolicyDocument"
    ]
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] != drop]
    iam.put_role_policy(RoleName="homu-backend-task-execution", PolicyName=EXECUTION_POLICY, PolicyDocument=json.dumps(document))  # fmt: skip
    return document


def test_the_password_secret_unreadable_because_its_statement_was_removed(emulator, deployment):
    iam = emulator.client("iam")
    saved = iam.get_role_policy(RoleName="homu-backend-task-execution", PolicyName=EXECUTION_POLICY)[
        "PolicyDocument"
    ]
    _policy(emulator, drop="ReadTheMasterPassword")
    try:
        diagnosis = run(deployment, ["homu-fargate"])
    finally:
        iam.put_role_policy(RoleName="homu-backend-task-execution", PolicyName=EXECUTION_POLICY, PolicyDocument=json.dumps(saved))  # fmt: skip
    [found] = problems(diagnosis)
    assert found.title == "the execution role can read the secrets the task definition names"
    assert (
        f"may not secretsmanager:GetSecretValue on {deployment.ids['secret']}: no statement allows it"
        in found.evidence
    )
    assert found.fixes[0].startswith("python -m tools.cdktf deploy homu-fargate")


def test_the_password_secret_unreadable_because_a_deny_was_added(emulator, deployment):
    iam = emulator.client("iam")
    deny = {"Version": "2012-10-17", "Statement": [{"Sid": "NoSecrets", "Effect": "Deny", "Action": "secretsmanager:Get*", "Resource": "*"}]}  # fmt: skip
    iam.put_role_policy(
        RoleName="homu-backend-task-execution", PolicyName="hand-made", PolicyDocument=json.dumps(deny)
    )
    try:
        diagnosis = run(deployment, ["homu-fargate"])
    finally:
        iam.delete_role_policy(RoleName="homu-backend-task-execution", PolicyName="hand-made")
    [found] = problems(diagnosis)
    assert "denied by statement NoSecrets of inline policy hand-made" in found.evidence
    assert (
        "aws iam delete-role-policy --role-name homu-backend-task-execution --policy-name hand-made"
        in found.fixes[1]
    )


def test_the_5432_rule_removed_from_the_database_group(emulator, deployment):
    ids, ec2 = deployment.ids, emulator.client("ec2")
    database, app = ids["sg:homu-db-sg"], ids["sg:homu-backend-sg"]
    rule = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": app}]}]
    ec2.revoke_security_group_ingress(GroupId=database, IpPermissions=rule)
    try:
        diagnosis = run(deployment)
    finally:
        ec2.authorize_security_group_ingress(GroupId=database, IpPermissions=rule)
    [found] = problems(diagnosis)  # the host's own rule still admits it
    assert (found.stack, found.title) == (
        "homu-fargate",
        "the database homu-db's security group admits the app on 5432",
    )
    assert f"homu-backend-sg ({app})" in found.evidence
    assert found.fixes == [
        "python -m tools.cdktf deploy homu-fargate   (puts back the rule the stack owns)",
        f"aws ec2 authorize-security-group-ingress --region {REGION} --group-id {database} --protocol tcp --port 5432 --source-group {app}",
    ]  # fmt: skip


def test_the_database_stopped(emulator, deployment, env_for_cli, capsys):
    rds = emulator.client("rds")
    rds.stop_db_instance(DBInstanceIdentifier="homu-db")
    try:
        code = main(["homu-ec2", "--no-bill"])
    finally:
        rds.start_db_instance(DBInstanceIdentifier="homu-db")
    out = capsys.readouterr().out
    assert code == 1
    assert "problem          database  the database homu-db is available: homu-db is stopped" in out
    assert f"fix: aws rds start-db-instance --region {REGION} --db-instance-identifier homu-db" in out
    assert out.splitlines()[-1].startswith("summary: ") and ", 1 problem, " in out.splitlines()[-1]


def test_a_network_acl_deny_and_a_stale_endpoint(emulator, deployment):
    ec2 = emulator.client("ec2")
    acl = ec2.describe_network_acls(Filters=[{"Name": "default", "Values": ["true"]}, {"Name": "vpc-id", "Values": [deployment.ids["vpc"]]}])["NetworkAcls"][0]["NetworkAclId"]  # fmt: skip
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=50, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 6379, "To": 6379})  # fmt: skip
    host = deployment.ids["db_host"]
    outputs = {
        **deployment.outputs["homu-data"],
        "database_endpoint": "homu-db.old.ap-northeast-2.rds.amazonaws.com",
    }
    state = {"version": 4, "outputs": {k: {"value": v} for k, v in outputs.items()}}
    s3, key = emulator.client("s3"), deployment.settings.state_key("homu-data")
    s3.put_object(Bucket=deployment.settings.state_bucket, Key=key, Body=json.dumps(state).encode())
    try:
        diagnosis = run(deployment, ["homu-fargate"])
    finally:
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=50, Egress=False)
        state["outputs"]["database_endpoint"] = {"value": host}
        s3.put_object(Bucket=deployment.settings.state_bucket, Key=key, Body=json.dumps(state).encode())
    assert len(problems(diagnosis)) == 2
    [endpoint] = [c for c in problems(diagnosis) if "endpoint" in c.title]
    [acls] = [c for c in problems(diagnosis) if "network ACLs" in c.title]
    assert (
        "endpoint" in endpoint.title
        and "homu-data output database_endpoint says homu-db.old" in endpoint.evidence
    )
    assert endpoint.fixes == ["python -m tools.cdktf deploy homu-data homu-fargate   (rewrites the outputs and what the app is handed)"]  # fmt: skip
    assert (
        acls.area == "cache" and "lets no inbound 6379 from 10.0.10.0/24 (rule 50 denies it)" in acls.evidence
    )
    assert acls.fixes == [f"aws ec2 delete-network-acl-entry --region {REGION} --network-acl-id {acl} --ingress --rule-number 50"]  # fmt: skip


def test_the_host_stopped_and_its_agent_gone(emulator, deployment):
    ec2, instance = emulator.client("ec2"), deployment.ids["instance"]
    ec2.stop_instances(InstanceIds=[instance])
    try:
        diagnosis = run(deployment, ["homu-ec2"])
    finally:
        ec2.start_instances(InstanceIds=[instance])
    running = only(diagnosis, "homu-ec2", "the host is running")
    agent = only(diagnosis, "homu-ec2", "SSM agent")
    assert running.status == PROBLEM and running.fixes == [f"aws ec2 start-instances --region {REGION} --instance-ids {instance}"]  # fmt: skip
    assert agent.status == PROBLEM and "is not registered with SSM" in agent.evidence


class StoppedTasks:
    """ECS's answers about stopped tasks and events, which moto cannot give (it runs no Fargate task)."""

    region = REGION

    def __init__(self, tasks):
        self.tasks = tasks

    def call(self, service, operation, **kwargs):
        return {"list_tasks": {"taskArns": [t["taskArn"] for t in self.tasks]}, "describe_tasks": {"tasks": self.tasks}}[operation]  # fmt: skip


NAMES = Names(REGION, "homu-cluster", "homu-backend-service", "/ecs/homu-backend", "/homu/image-tag",
              "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/homu-backend", "/api/v1/health", 1024)  # fmt: skip


def test_stopped_tasks_and_events_give_the_cause_and_its_fix():
    denied = {"taskArn": "t1", "stopCode": "TaskFailedToStart", "stoppedReason": STOPPED_TEXTS[2][0]}
    killed = {"taskArn": "t2", "stoppedReason": "Essential container in task exited",
              "containers": [{"name": "homu-backend", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}]}  # fmt: skip
    routine = {"taskArn": "t3", "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1)"}
    service = {"serviceName": "homu-backend-service", "runningCount": 0, "desiredCount": 1, "pendingCount": 1,
               "events": [{"message": STOPPED_TEXTS[7][0], "createdAt": "now"},
                          {"message": "(service homu-backend-service) has reached a steady state."}]}  # fmt: skip
    stopped, causes = stopped_check(StoppedTasks([denied, killed, routine]), "homu-cluster", service, NAMES)
    events, event_causes = events_check(service, NAMES)
    running = running_check(service, [*causes, *event_causes], NAMES)
    assert stopped.status == events.status == running.status == PROBLEM
    assert stopped.evidence.startswith("2 of 3 stopped task(s): ")
    assert "secret not readable x1" in stopped.evidence and "out of memory x1" in stopped.evidence
    assert "ReadTheMasterPassword" in stopped.fixes[0]
    assert stopped.fixes[1] == "raise fargate_memory (now 1024 MiB; a valid pair with fargate_cpu): HOMU_FARGATE_MEMORY=2048 python -m tools.cdktf deploy homu-fargate"  # fmt: skip
    assert events.evidence.startswith("health check failing x1") and "/api/v1/health" in events.fixes[0]
    assert running.evidence.startswith("0 of 1 running, 1 pending: ")
    quiet, _ = stopped_check(StoppedTasks([routine]), "homu-cluster", service, NAMES)
    assert (quiet.status, quiet.evidence) == (OK, "1 stopped task(s), none for a failure")


# Texts as AWS's ECS troubleshooting pages and stopped tasks show them.
STOPPED_TEXTS = [
    (("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
     "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/homu-backend:v9: "
     "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/homu-backend:v9: not found"), classify.IMAGE_MISSING),
    (("CannotPullContainerError: Error response from daemon: manifest for 123456789012.dkr.ecr.ap-northeast-2."
     "amazonaws.com/homu-backend:v9 not found: manifest unknown: Requested image not found"), classify.IMAGE_MISSING),
    (("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
     "unable to retrieve secret from asm: service call has been retried 5 time(s): AccessDeniedException: "
     "User: arn:aws:sts::123456789012:assumed-role/homu-backend-task-execution/8f1 is not authorized to perform: "
     "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-1 "
     "because no identity-based policy allows the secretsmanager:GetSecretValue action"), classify.SECRET_UNREADABLE),
    (("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
     "unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request "
     "failed caused by: Post \"https://api.ecr.ap-northeast-2.amazonaws.com/\": dial tcp 52.95.195.109:443: "
     "i/o timeout"), classify.NO_ROUTE),
    (("CannotPullContainerError: ref pull has been retried 5 time(s): failed to copy: httpReadSeeker: failed open: "
     "failed to do request: Get \"https://prod-ap-northeast-2-starport-layer-bucket.s3.ap-northeast-2.amazonaws.com/\": "
     "dial tcp 52.219.56.50:443: i/o timeout"), classify.NO_ROUTE),
    (("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:"
     "targetgroup/homu-alb-tg/a6d71c9b9c18b389)"), classify.HEALTH_CHECK),
    ("Task failed container health checks", classify.HEALTH_CHECK),
    (("(service homu-backend-service) (task 9e460ae) (port 8000) is unhealthy in (target-group arn:aws:"
     "elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/homu-alb-tg/a6d7) due to (reason Health checks "
     "failed with these codes: [502])"), classify.HEALTH_CHECK),
    ("OutOfMemoryError: Container killed due to memory usage", classify.OUT_OF_MEMORY),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "kind"), STOPPED_TEXTS, ids=[k + str(i) for i, (_, k) in enumerate(STOPPED_TEXTS)]
)
def test_stopped_task_texts_are_classified(text, kind):
    assert classify.classify(text) == kind


def test_a_task_s_containers_say_why_and_routine_stops_are_not_failures():
    exited = {"stoppedReason": "Essential container in task exited", "stopCode": "EssentialContainerExited"}
    killed = {
        **exited,
        "containers": [{"name": "db-init", "exitCode": 0}, {"name": "homu-backend", "exitCode": 137}],
    }
    crashed = {**exited, "containers": [{"name": "homu-backend", "exitCode": 1, "reason": ""}]}
    assert classify.stopped_task_cause(killed).kind == classify.OUT_OF_MEMORY
    assert classify.stopped_task_cause(crashed).kind == classify.APP_EXITED
    scaled = {"stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1234567890)", "containers": [{"exitCode": 143}]}  # fmt: skip
    assert classify.stopped_task_cause(scaled) is None
    assert classify.event_cause("(service homu-backend-service) has reached a steady state.") is None
    unable = classify.event_cause(
        "(service homu-backend-service) is unable to consistently start tasks successfully."
    )
    assert unable.kind == classify.OTHER


def test_policy_evaluation_wildcards_not_action_and_deny():
    secret = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-1-AbCdEf"
    allow = Document("a", [{"Effect": "Allow", "Action": "SecretsManager:Get*", "Resource": "arn:aws:secretsmanager:*:*:secret:rds!db-?-*"}])  # fmt: skip
    assert decide([allow], "secretsmanager:GetSecretValue", secret).allowed
    assert not decide([allow], "secretsmanager:GetSecretValue", secret.replace("db-1", "db-12")).allowed
    everything_but = Document("b", [{"Effect": "Allow", "NotAction": "secretsmanager:*", "Resource": "*"}])
    assert not decide([everything_but], "secretsmanager:GetSecretValue", secret).allowed
    denied = Document("c", [{"Sid": "No", "Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::*"}])
    decision = decide([allow, denied], "secretsmanager:GetSecretValue", secret)
    assert not decision.allowed and decision.why == "denied by statement No of c"


def test_read_only_credentials_with_iam_enforced_see_no_denial(emulator, deployment, monkeypatch):
    iam = emulator.client("iam")
    iam.create_user(UserName="doctor-reader")
    iam.attach_user_policy(UserName="doctor-reader", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName="doctor-reader")["AccessKey"]
    keys = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    aws, calls = Aws(deployment.settings), []
    original = aws.call
    aws.call = lambda service, operation, **kw: calls.append(aws.action(service, operation)) or original(service, operation, **kw)  # fmt: skip
    with emulator.iam_enforced():
        # Enforcement is on for these keys: a write is refused.
        with pytest.raises(Exception, match="UnauthorizedOperation|not authorized|AccessDenied"):
            emulator_client("ec2", emulator.url, REGION, keys).create_security_group(
                GroupName="w", Description="w"
            )
        diagnosis = diagnose(aws, deployment.settings, [])
    assert [c for c in diagnosis.checks if "failed" in c.evidence] == []
    assert problems(diagnosis) == []
    assert {c.title for c in diagnosis.checks if c.status == UNCHECKED} == EMULATOR_GAPS
    verbs = {call.split(":")[1].split("_")[0] for call in calls}
    assert {v for v in verbs if not v.startswith(("Describe", "List", "Get"))} == set()
    assert not {"secretsmanager:GetSecretValue", "kms:Decrypt"} & set(calls)


def test_the_command_s_exit_codes_and_one_line_errors(deployment, env_for_cli, monkeypatch, capsys):
    assert main(["--no-bill", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["exit_code"] == 0
        and report["summary"]["problem"] == 0
        and report["stacks"] == ["homu-fargate", "homu-ec2"]
    )
    monkeypatch.setenv("HOMU_STATE_BUCKET", "homu-nothing-here")
    assert main(["--no-bill"]) == 2
    assert capsys.readouterr().err == "error: homu-data is not deployed: no outputs in s3://homu-nothing-here/dev/homu-data/terraform.tfstate\n"  # fmt: skip
    monkeypatch.delenv("HOMU_STATE_BUCKET")
    for name in ADMIN:
        monkeypatch.delenv(name)
    for name, value in {"AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert main(["--no-bill"]) == 2
    assert (
        capsys.readouterr().err
        == "error: s3:GetObject failed: NoCredentialsError: Unable to locate credentials\n"
    )
    monkeypatch.setattr(
        "tools.doctor.doctor.diagnose", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
    )
    assert main(["--no-bill"]) == 130
    assert capsys.readouterr().err == "interrupted: nothing was changed (the doctor only reads)\n"


@pytest.fixture
def env_for_cli(deployment, monkeypatch):
    monkeypatch.setenv("HOMU_ENDPOINT_URL", deployment.settings.endpoint_url)
    monkeypatch.setenv("HOMU_REGION", REGION)


def test_the_bill_names_its_largest_lines_and_the_settings_that_lower_them(deployment, tmp_path):
    stacks = {
        "homu-data": {
            "aws_db_instance": {
                "db": json.loads(Path("tests/fixtures/cost/rds-multi-az/cdk.tf.json").read_text())[
                    "resource"
                ]["aws_db_instance"]["db"]
            }
        },
        "homu-fargate": {
            "aws_nat_gateway": {"nat": {"allocation_id": "eipalloc-1", "subnet_id": "subnet-1"}},
            "aws_ecs_cluster": {
                "cluster": {
                    "name": "homu-cluster",
                    "setting": [{"name": "containerInsights", "value": "enabled"}],
                }
            },
        },
    }
    for name, resources in stacks.items():
        (tmp_path / "stacks" / name).mkdir(parents=True)
        (tmp_path / "stacks" / name / "cdk.tf.json").write_text(json.dumps({"provider": {"aws": [{"region": REGION}]}, "resource": resources}))  # fmt: skip
    [bill] = bill_checks(tmp_path, deployment.settings, ["homu-fargate"])
    assert bill.status == OK and bill.evidence.startswith("option 1 (Fargate): $")
    assert bill.notes[0].endswith("NAT gateway hours  (aws_nat_gateway.nat)")
    assert any(n.startswith('lower it: nat_gateways "none"') for n in bill.notes)
    assert any(n.startswith("lower it: db_multi_az false outside production") for n in bill.notes)


def test_the_host_unit_name_is_the_stack_s():
    from tools.doctor.host import UNIT

    assert f'UNIT = "{UNIT}"' in Path("modules/ec2_host.py").read_text()
