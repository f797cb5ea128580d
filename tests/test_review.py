"""The plan review (tools/review): fixture pairs of synthesized outputs, each with its exact rows, cost
delta and policy findings; the Markdown a reviewer reads; and the command on a real git branch."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from modules.names import DATA_STACK, EC2_STACK, FARGATE_STACK, POSTGRES_PORT
from tools.review.changes import Action
from tools.review.report import render
from tools.review.review import Review, review_configuration
from tools.tfjson import STACK_FILE

ROOT = Path(__file__).resolve().parent.parent
OPTION_1, OPTION_2 = "option 1 (Fargate)", "option 2 (EC2)"


def rows(review) -> list[tuple[str, str, str]]:
    return [(c.action.value, c.stack, c.address) for c in review.changes]


def deltas(review) -> dict[str, float]:
    return {t.label: round(t.delta, 2) for t in review.option_totals}


def with_world_rule(source: Path, tmp_path: Path) -> Path:
    """A copy of ``source`` whose Fargate stack also opens PostgreSQL to the internet."""
    outdir = tmp_path / "world"
    shutil.copytree(source, outdir, symlinks=True)
    path = outdir / "stacks" / FARGATE_STACK / STACK_FILE
    config = json.loads(path.read_text())
    config["resource"]["aws_vpc_security_group_ingress_rule"]["database-from-world"] = {
        "cidr_ipv4": "0.0.0.0/0",
        "description": "PostgreSQL from anywhere",
        "from_port": POSTGRES_PORT,
        "to_port": POSTGRES_PORT,
        "ip_protocol": "tcp",
        "security_group_id": "${data.terraform_remote_state.homu-data.outputs.database_security_group_id}",
    }
    path.write_text(json.dumps(config, indent=2))
    return outdir


def test_a_port_opened_to_the_world_is_one_new_rule_two_findings_and_no_cost(default, tmp_path):
    review = review_configuration("default", default.outdir, with_world_rule(default.outdir, tmp_path))
    assert rows(review) == [
        ("create", FARGATE_STACK, "aws_vpc_security_group_ingress_rule.database-from-world")
    ]
    assert deltas(review) == {OPTION_1: 0.0, OPTION_2: 0.0}
    assert review.cost_lines == []
    new = {(r.stack, r.check_id, r.resource) for r in review.findings.new}
    rule = "aws_vpc_security_group_ingress_rule.database-from-world"
    assert new == {(FARGATE_STACK, "CKV_HOMU_1", rule), (FARGATE_STACK, "CKV_HOMU_4", rule)}
    assert review.findings.fixed == [] and review.findings.new_exceptions == []
    assert review.findings.scanned == [FARGATE_STACK]
    text = render(Review("`base`", "`head`", [review]))
    assert "| create | homu-fargate | `aws_vpc_security_group_ingress_rule.database-from-world` |" in text
    assert "monthly option 1 (Fargate) $0.00; option 2 (EC2) $0.00; 2 new and 0 fixed policy findings" in text


def test_an_instance_class_change_updates_the_database_in_place_and_prices_the_delta(default, synth):
    head = synth(db_instance_class="db.t3.small")
    review = review_configuration("default", default.outdir, head.outdir, scan=False)
    database = f"aws_db_instance.{next(iter(head[DATA_STACK].resources('aws_db_instance')))}"
    assert rows(review) == [("update", DATA_STACK, database)]
    (change,) = review.changes
    assert [(a.name, a.before, a.after) for a in change.attributes] == [
        ("instance_class", "db.t3.micro", "db.t3.small")
    ]
    assert change.forcing == [] and not change.loud
    assert deltas(review) == {OPTION_1: 20.44, OPTION_2: 20.44}
    (stack,) = review.cost_lines
    assert [(c.address, round(c.old, 2), round(c.new, 2)) for c in stack.changed] == [
        (database, 20.44, 40.88)
    ]


def test_multi_az_updates_the_database_prices_its_standby_and_retires_its_exception(default, synth):
    head = synth(db_multi_az=True)
    review = review_configuration("default", default.outdir, head.outdir)
    database = f"aws_db_instance.{next(iter(head[DATA_STACK].resources('aws_db_instance')))}"
    assert rows(review) == [("update", DATA_STACK, database)]
    assert [(a.name, a.before, a.after) for a in review.changes[0].attributes] == [("multi_az", False, True)]
    assert deltas(review) == {OPTION_1: 23.06, OPTION_2: 23.06}
    assert review.findings.new == [] and review.findings.fixed == []
    assert [(r.check_id, r.resource) for r in review.findings.dropped_exceptions] == [
        ("CKV_AWS_157", database)
    ]


def test_a_removed_resource_is_a_destroy_with_its_cost(default, synth):
    base = synth(alert_email="ops@homu.example.com")
    review = review_configuration("default", base.outdir, default.outdir, scan=False)
    (subscription,) = base[DATA_STACK].resources("aws_sns_topic_subscription")
    assert rows(review) == [("delete", DATA_STACK, f"aws_sns_topic_subscription.{subscription}")]
    assert not review.changes[0].loud
    assert deltas(review) == {OPTION_1: 0.0, OPTION_2: 0.0}


def test_a_change_that_forces_a_new_database_is_a_loud_replacement_and_what_refers_to_it_follows(
    default, synth
):
    head = synth(db_username="homu_root")
    review = review_configuration("default", default.outdir, head.outdir, scan=False)
    database = f"aws_db_instance.{next(iter(head[DATA_STACK].resources('aws_db_instance')))}"
    first = review.changes[0]
    assert (first.action, first.stack, first.address, first.forcing) == (
        Action.REPLACE,
        DATA_STACK,
        database,
        ["username"],
    )
    assert first.loud and first.label == "homu-db"
    # Whatever reads the new database's ids changes with it, in both computes through homu-data's
    # outputs, and what reads those in turn; what reads only its identifier (kept) does not.
    urls = [f"{DATA_STACK}:database_{name}" for name in ("admin_url", "password_secret_arn", "url")]
    connect, secret = f"{DATA_STACK}:database_connect_arn", f"{DATA_STACK}:database_password_secret_arn"
    task_definition = (
        f"aws_ecs_task_definition.{next(iter(head[FARGATE_STACK].resources('aws_ecs_task_definition')))}"
    )
    host = f"aws_instance.{next(iter(head[EC2_STACK].resources('aws_instance')))}"
    followers = {
        (c.action.value, c.stack, c.type, c.label): (c.forcing, c.maybe_forcing, c.causes)
        for c in review.changes[1:]
    }
    # The host's user_data sets user_data_replace_on_change: a new database URL is a new host.
    assert followers == {
        ("replace", EC2_STACK, "aws_instance", "homu-backend"): (["user_data"], [], urls),
        ("replace", FARGATE_STACK, "aws_ecs_task_definition", "homu-backend-task"): (
            ["container_definitions"],
            [],
            urls,
        ),
        ("update", EC2_STACK, "aws_eip", "homu-backend"): ([], [], [host]),
        # Its graphs follow the new instance id.
        ("update", EC2_STACK, "aws_cloudwatch_dashboard", "homu-dev-ec2"): ([], [], [host]),
        **{
            ("update", EC2_STACK, "aws_cloudwatch_metric_alarm", f"monitoring/host-{name}"): ([], [], [host])
            for name in ("cpu", "instance-check", "system-check")
        },
        ("update", EC2_STACK, "aws_iam_role_policy", "app-secrets-and-runtime"): ([], [], [connect, secret]),
        ("update", FARGATE_STACK, "aws_ecs_service", "homu-backend-service"): ([], [], [task_definition]),
        ("update", FARGATE_STACK, "aws_iam_role_policy", "pull-image-read-secrets-write-logs"): (
            [],
            [],
            [secret],
        ),
        ("update", FARGATE_STACK, "aws_iam_role_policy", "app-runtime"): ([], [], [connect]),
    }
    assert all(not c.attributes for c in review.changes[1:])
    text = render(Review("`base`", "`head`", [review]))
    caution = text.split("> [!CAUTION]\n", 1)[1].split("\n\n", 1)[0]
    assert f"`default` homu-data: replace `{database}` (homu-db): `username` forces a new one" in caution
    assert "`username` **forces replacement**: `homu_admin` → `homu_root`" in text


def test_no_change_is_said_in_one_line_and_scans_nothing(default):
    review = review_configuration("default", default.outdir, default.outdir)
    assert review.changes == [] and not review.changed
    assert review.findings.scanned == []
    text = render(Review("`a`", "`a`", [review]))
    assert text.startswith("## Infrastructure review\n")
    assert "- `default`: no change\n" in text and "### `default`" not in text


def test_values_from_the_json_cannot_break_the_table(default, tmp_path):
    outdir = tmp_path / "pipes"
    shutil.copytree(default.outdir, outdir, symlinks=True)
    path = outdir / "stacks" / DATA_STACK / STACK_FILE
    config = json.loads(path.read_text())
    (name, body), *_ = config["resource"]["aws_security_group"].items()
    body["description"] = "a | b ``` <img src=x>"
    path.write_text(json.dumps(config))
    text = render(Review("`a`", "`b`", [review_configuration("default", default.outdir, outdir, scan=False)]))
    row = next(line for line in text.splitlines() if f"aws_security_group.{name}" in line)
    # Five cells, and the value inside one code span (where HTML is text): no pipe or backtick of its own.
    assert row.count(" | ") == 4 and "```" not in row
    assert "→ `a ¦ b ''' <img src=x>`" in row


def test_a_large_change_is_cut_to_the_budget_and_says_so(default, tmp_path):
    outdir = tmp_path / "many"
    shutil.copytree(default.outdir, outdir, symlinks=True)
    path = outdir / "stacks" / DATA_STACK / STACK_FILE
    config = json.loads(path.read_text())
    config["resource"]["aws_cloudwatch_log_group"].update(
        {f"extra-{i}": {"name": f"/homu/extra-{i}", "retention_in_days": 30} for i in range(300)}
    )
    path.write_text(json.dumps(config))
    review = review_configuration("default", default.outdir, outdir, scan=False)
    text = render(Review("`a`", "`b`", [review]), budget=8_000)
    assert len(text) <= 8_000
    assert "more | | in the full report" in text


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repository(tmp_path) -> Path:
    """A git repository holding this checkout's files (committed or not) on ``main``."""
    repo = tmp_path / "repo"
    files = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "--quiet", "--initial-branch", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "base")
    return repo


def test_the_command_reviews_a_branch_against_main_without_touching_the_tree(repository):
    git(repository, "switch", "--quiet", "-c", "multi-az")
    cdktf = json.loads((repository / "cdktf.json").read_text())
    cdktf["context"]["db_multi_az"] = True
    (repository / "cdktf.json").write_text(json.dumps(cdktf, indent=2) + "\n")
    status, worktrees = git(repository, "status", "--porcelain"), git(repository, "worktree", "list")
    result = subprocess.run(
        [sys.executable, "-m", "tools.review", "main", "--config", "default", "--no-scan"],
        cwd=repository,
        check=False,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "HOME": str(repository.parent / "home"),
        },
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert (
        "- `default`: 0 to add, 1 to change, 0 to replace, 0 to destroy; monthly option 1 (Fargate) +$"
        in text
    )
    assert "`multi_az`: `false` → `true`" in text
    assert (git(repository, "status", "--porcelain"), git(repository, "worktree", "list")) == (
        status,
        worktrees,
    )


def test_an_unknown_configuration_is_refused_naming_it_and_what_is_allowed(repository):
    result = subprocess.run(
        [sys.executable, "-m", "tools.review", "main", "--config", "staging"],
        cwd=repository,
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    allowed = ", ".join(["default", *sorted(p.stem for p in (ROOT / "environments").glob("*.json"))])
    assert result.stderr.strip() == f"error: --config staging: no such configuration; allowed: {allowed}"


def test_a_new_item_in_a_long_list_is_named_alone(default, synth):
    """The SSH admin network adds one rule to the network ACL's list and one rule resource."""
    review = review_configuration(
        "default", default.outdir, synth(admin_cidr="203.0.113.0/24").outdir, scan=False
    )
    text = render(Review("`a`", "`b`", [review]))
    acl = next(line for line in text.splitlines() if "| `aws_default_network_acl." in line)
    assert acl.endswith(
        "| `ingress`: + `action=allow cidr_block=203.0.113.0/24 from_port=22 protocol=tcp rule_no=160 to_port=22` |"
    )
    ssh = next(line for line in text.splitlines() if "| app-ssh-admin |" in line)
    assert ssh.startswith("| create | homu-ec2 |") and "`cidr_ipv4` = `203.0.113.0/24`" in ssh


def test_a_renamed_resource_reaches_what_reads_its_name(default, tmp_path):
    """A literal that the change rewrites is not kept by the replacement: what reads it follows."""
    outdir = tmp_path / "renamed"
    shutil.copytree(default.outdir, outdir, symlinks=True)
    path = outdir / "stacks" / DATA_STACK / STACK_FILE
    config = json.loads(path.read_text())
    groups = config["resource"]["aws_db_parameter_group"]
    (name, group), *_ = groups.items()
    group["name"] = group["name"] + "-2"
    path.write_text(json.dumps(config))
    review = review_configuration("default", default.outdir, outdir, scan=False)
    by_type = {c.type: c for c in review.changes}
    assert by_type["aws_db_parameter_group"].action is Action.REPLACE
    # The database reads the group's name (in place) and the RDS event subscription its name (forces).
    assert by_type["aws_db_instance"].causes == [f"aws_db_parameter_group.{name}"]
    assert by_type["aws_db_event_subscription"].forcing == ["name"]


def test_the_syntheses_get_no_credential_and_none_of_the_users_settings():
    from tools.review.synth import clean_environment

    env = clean_environment(
        {
            "PATH": "/usr/bin",
            "HOME": "/home/u",
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_PROFILE": "prod",
            "GITHUB_TOKEN": "ghs_x",
            "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token",
            "NPM_TOKEN": "npm_x",
            "SSH_AUTH_SOCK": "/tmp/agent",
            "HOMU_SETTINGS_FILE": "environments/prod.json",
            "HOMU_DB_MULTI_AZ": "true",
        }
    )
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CHECKPOINT_DISABLE": "1",
    }


def test_a_runners_sigterm_removes_the_worktree_like_ctrl_c(repository, tmp_path):
    worktrees = git(repository, "worktree", "list")
    pattern = "homu-review-base-*/tree/main.py"
    before = set(Path(tempfile.gettempdir()).glob(pattern))
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.review", "main", "--no-scan", "--output", str(tmp_path / "r.md")],
        cwd=repository,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")},
    )
    # Once the base is checked out, stop it as a CI runner cancelling the job would.
    while not set(Path(tempfile.gettempdir()).glob(pattern)) - before:
        assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr.strip().splitlines()[-1]) == (
        130,
        "review: interrupted; nothing was written",
    )
    assert git(repository, "worktree", "list") == worktrees
    assert not (tmp_path / "r.md").exists()
