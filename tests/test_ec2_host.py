"""homu-ec2: the host, its role, its user data (validated by cloud-init, shellcheck, systemd)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from modules.ec2_host import (
    APP_CONTAINER_ADDRESS,
    CANONICAL_OWNER,
    COMPOSE_SERVICES,
    GUARD_UNIT,
    LOGGING_OVERRIDE,
    RENDER_ENV,
    UNIT_PATH,
    metadata_rule,
)
from tests.conftest import PRODUCTION, ROOT
from tests.synth import app_environment, data_output
from tools.tfjson import Stack, ref

TERRAFORM_REFERENCE = re.compile(r"\$\{([^}]+)\}")
FAKE_ARN = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:homu/example-AbCdEf"

# A secret written as a value into user data (not a reference that is read at boot).
LEAKED_SECRET = re.compile(r"(?i)(password|token|secret_key)\s*[=:]\s*['\"]?[A-Za-z0-9]{12,}")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; `make test` installs it (tools/bootstrap.py)")
    return path


def user_data(stack: Stack) -> str:
    return stack.resource("aws_instance")["user_data"]


def rendered(stack: Stack) -> str:
    """User data as the instance receives it, with every Terraform reference resolved to an ARN."""
    return TERRAFORM_REFERENCE.sub(FAKE_ARN, user_data(stack))


def written_file(stack: Stack, path: str) -> str:
    config = yaml.safe_load(rendered(stack))
    (entry,) = [f for f in config["write_files"] if f["path"] == path]
    return entry["content"]


def test_host_is_ubuntu_2204_looked_up_never_a_literal(default):
    stack = default["homu-ec2"]
    (name, ami) = next(iter(stack.data("aws_ami").items()))
    assert ami["owners"] == [CANONICAL_OWNER] and ami["most_recent"] is True
    assert {"name": "name", "values": ["ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"]} in ami[
        "filter"
    ]
    instance = stack.resource("aws_instance")
    assert instance["ami"] == f"${{data.aws_ami.{name}.id}}"
    # A newer AMI must not silently replace the running host.
    assert instance["lifecycle"] == {"ignore_changes": ["ami"]}


def test_instance_is_hardened_and_sized_from_settings(default, synth):
    stack = default["homu-ec2"]
    instance = stack.resource("aws_instance")
    assert instance["instance_type"] == "t3.small"
    assert instance["root_block_device"] == {
        "volume_type": "gp3",
        "volume_size": 20,
        "encrypted": True,
        "kms_key_id": "${aws_kms_key.encryption_key_EEB70057.arn}",
        "delete_on_termination": True,
    }
    assert instance["metadata_options"] == {
        "http_endpoint": "enabled",
        "http_tokens": "required",
        # The app's container is one bridge hop away and signs its Redis tokens with the role.
        "http_put_response_hop_limit": 2,
    }
    assert instance["monitoring"] is True and instance["ebs_optimized"] is True
    # cloud-init writes .env's script once per instance: new values need a new host.
    assert instance["user_data_replace_on_change"] is True
    assert "key_name" not in instance, "no SSH key unless configured; Session Manager is the way in"
    # The first public subnet of the data tier's network.
    assert instance["subnet_id"] == data_output("public_subnet_ids").replace("${", "${element(").replace(
        "}", ", 0)}"
    )
    host_group = next(
        a for a, g in stack.resources("aws_security_group").items() if g["name"] == "homu-backend-host-sg"
    )
    assert instance["vpc_security_group_ids"] == [ref(f"aws_security_group.{host_group}")]
    bigger = synth(ec2_instance_type="t3.medium", ec2_volume_size=40, ec2_key_name="ops")[
        "homu-ec2"
    ].resource("aws_instance")
    assert (bigger["instance_type"], bigger["root_block_device"]["volume_size"], bigger["key_name"]) == (
        "t3.medium",
        40,
        "ops",
    )


def test_elastic_ip_is_attached_to_the_host(default):
    stack = default["homu-ec2"]
    (address,) = stack.resources("aws_eip").values()
    assert address["instance"] == ref(stack.address("aws_instance", stack.resource("aws_instance")))
    assert address["domain"] == "vpc"


def test_instance_role_has_session_manager_the_app_secret_and_its_runtime_calls(default):
    stack = default["homu-ec2"]
    # The role itself is homu-data's (it exists whichever option is deployed; see test_secrets).
    assert stack.resources("aws_iam_role") == {}
    role = data_output("host_role_name")
    attachment = stack.named("aws_iam_role_policy_attachment", "host/session-manager")
    assert attachment["role"] == stack.named("aws_iam_role_policy", "host/app")["role"] == role
    assert attachment["policy_arn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    statements = json.loads(stack.named("aws_iam_role_policy", "host/app")["policy"])["Statement"]
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in statements} == {
        "ReadTheMasterPassword": (
            ["secretsmanager:GetSecretValue"],
            [data_output("database_password_secret_arn")],
        ),
        "DecryptTheSecrets": (["kms:Decrypt"], [data_output("secrets_key_arn")]),
        "SignInToPostgres": (["rds-db:connect"], [data_output("database_connect_arn")]),
        "SignInToRedis": (["elasticache:Connect"], [data_output("cache_arn"), data_output("cache_user_arn")]),
        "DeriveTheSecretKey": (["kms:GenerateMac"], [data_output("secret_key_key_arn")]),
    }
    profile = stack.resource("aws_iam_instance_profile")
    assert profile["role"] == profile["name"] == role
    assert stack.resource("aws_instance")["iam_instance_profile"] == ref(
        stack.address("aws_iam_instance_profile", profile), "name"
    )


def test_user_data_is_valid_cloud_config(default, tmp_path):
    config = tmp_path / "user-data.yaml"
    config.write_text(rendered(default["homu-ec2"]))
    result = subprocess.run(
        [tool("cloud-init"), "schema", "--config-file", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_cloud_init_schema_check_can_fail(tmp_path):
    config = tmp_path / "user-data.yaml"
    config.write_text("#cloud-config\npackages: docker.io\nruncmd: {start: docker}\n")
    result = subprocess.run(
        [tool("cloud-init"), "schema", "--config-file", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "is not of type 'array'" in result.stdout + result.stderr


def test_user_data_installs_docker_checks_out_and_starts_the_unit(default, synth):
    config = yaml.safe_load(rendered(default["homu-ec2"]))
    assert {"docker.io", "docker-compose-v2", "git", "jq", "awscli"} <= set(config["packages"])
    assert config["runcmd"] == [
        "systemctl enable --now homu-imds-guard.service",
        "systemctl enable --now docker.service",
        "usermod -aG docker ubuntu",
        "git clone --depth 1 --branch main https://github.com/your-org/techeer-team-b-2026.git /opt/homu/app",
        "systemctl daemon-reload",
        "systemctl enable --now homu-backend.service",
    ]
    custom = yaml.safe_load(
        rendered(
            synth(app_repository="https://github.com/acme/homu.git", app_ref="v1.2.0", compose_dir="deploy")[
                "homu-ec2"
            ]
        )
    )
    assert (
        "git clone --depth 1 --branch v1.2.0 https://github.com/acme/homu.git /opt/homu/app"
        in custom["runcmd"]
    )
    assert "WorkingDirectory=/opt/homu/app/deploy" in next(
        f["content"] for f in custom["write_files"] if f["path"] == UNIT_PATH
    )


def test_render_script_passes_shellcheck(default, tmp_path):
    script = tmp_path / "homu-render-env"
    script.write_text(written_file(default["homu-ec2"], RENDER_ENV))
    result = subprocess.run(
        [tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def run_render_script(default, tmp_path: Path, secret_reply: str) -> subprocess.CompletedProcess[str]:
    """The host's script as the unit runs it, with an ``aws`` that answers ``secret_reply`` (or fails)."""
    script, fake_bin = tmp_path / "homu-render-env", tmp_path / "bin"
    script.write_text(written_file(default["homu-ec2"], RENDER_ENV))
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "aws").write_text(f"#!/bin/sh\n{secret_reply}\n")
    (fake_bin / "aws").chmod(0o755)
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(script), str(project)],
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_render_script_writes_the_password_into_db_init_env_only(default, tmp_path):
    master = {"username": "homu_admin", "password": "r0tated $ecret pw"}
    result = run_render_script(default, tmp_path, f"echo '{json.dumps(master)}'")
    assert result.returncode == 0, result.stderr
    project = tmp_path / "project"
    app_env, init_env = (project / ".env").read_text(), (project / "db-init.env").read_text()
    assert f"DATABASE_PASSWORD='{master['password']}'" in init_env.splitlines()
    assert master["password"] not in app_env and "DATABASE_AUTH='iam'" in app_env.splitlines()
    assert {(p.name, p.stat().st_mode & 0o777) for p in project.iterdir()} == {
        (".env", 0o600),
        ("db-init.env", 0o600),
    }

    # A failed read changes nothing and leaves no half-written file behind.
    failed = run_render_script(default, tmp_path, "echo 'AccessDeniedException' >&2; exit 254")
    assert failed.returncode != 0 and "AccessDeniedException" in failed.stderr
    assert (project / ".env").read_text() == app_env and (project / "db-init.env").read_text() == init_env
    assert sorted(p.name for p in project.iterdir()) == [".env", "db-init.env"]


def test_shellcheck_can_fail(tmp_path):
    script = tmp_path / "bad.sh"
    script.write_text("#!/bin/bash\nrm -rf $1/*\n")
    assert subprocess.run([tool("shellcheck"), str(script)], capture_output=True, check=False).returncode != 0


def verify_unit(unit_text: str, root: Path, path: str = UNIT_PATH) -> subprocess.CompletedProcess:
    """systemd-analyze verify in a scratch root that has the units' executables and docker.service."""
    for executable in ("usr/bin/docker", "usr/sbin/iptables", RENDER_ENV.lstrip("/")):
        (root / executable).parent.mkdir(parents=True, exist_ok=True)
        (root / executable).write_text("#!/bin/sh\n")
        (root / executable).chmod(0o755)
    units = root / "lib/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    for target in Path("/lib/systemd/system").glob("*.target"):
        shutil.copy(target, units)
    (units / "docker.service").write_text(
        "[Unit]\nDescription=Docker\n[Service]\nExecStart=/usr/bin/docker\n"
    )
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / path.lstrip("/")).write_text(unit_text)
    return subprocess.run(
        [tool("systemd-analyze"), "verify", f"--root={root}", path],
        capture_output=True,
        text=True,
        check=False,
    )


def test_systemd_unit_is_the_guides_and_verifies(default, tmp_path):
    unit = written_file(default["homu-ec2"], UNIT_PATH)
    for line in (
        "Requires=docker.service",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "WantedBy=multi-user.target",
        "WorkingDirectory=/opt/homu/app/backend",
        "ExecStartPre=/usr/local/sbin/homu-render-env /opt/homu/app/backend",
        "Environment=COMPOSE_FILE=docker-compose.yml:/etc/homu/compose-logging.yml",
        "ExecStart=/usr/bin/docker compose up --detach --build --remove-orphans",
        "ExecStop=/usr/bin/docker compose down",
    ):
        assert line in unit.splitlines(), line
    result = verify_unit(unit, tmp_path / "root")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_systemd_verification_can_fail(default, tmp_path):
    unit = written_file(default["homu-ec2"], UNIT_PATH).replace("Type=oneshot", "Type=oneshut")
    assert "Failed to parse service type" in verify_unit(unit, tmp_path / "root").stderr


GUARD_PATH = f"/etc/systemd/system/{GUARD_UNIT}"


def dropped(rule: list[str], source: str, destination: str) -> bool:
    """Whether a forwarded packet from ``source`` to ``destination`` matches ``rule`` (``! -s``, ``-s``,
    ``-d``: the matches the guard's rule uses) and so is dropped."""
    matches, negate, words = [], False, iter(rule[3:])
    for word in words:
        if word == "!":
            negate = True
        elif word in ("-s", "-d"):
            network = ipaddress.ip_network(next(words))
            address = ipaddress.ip_address(source if word == "-s" else destination)
            matches.append((address in network) != negate)
            negate = False
        elif word == "-j":
            assert next(words) == "DROP"
    return all(matches)


def test_only_the_apps_container_reaches_instance_metadata(default, tmp_path):
    """The guard unit, before Docker, drops every forwarded request to the metadata service but the
    app's, whose fixed address is the compose file's; the internet-facing proxy gets no credentials."""
    unit = written_file(default["homu-ec2"], GUARD_PATH)
    lines = unit.splitlines()
    assert "Before=docker.service" in lines and "WantedBy=docker.service multi-user.target" in lines
    starts = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
    assert starts == [
        "-/usr/sbin/iptables -N DOCKER-USER",
        "-" + " ".join(metadata_rule("-D")),
        " ".join(metadata_rule("-I")),
    ]
    rule = starts[2].split()
    assert rule[:3] == ["/usr/sbin/iptables", "-I", "DOCKER-USER"]
    result = verify_unit(unit, tmp_path / "root", GUARD_PATH)
    assert result.returncode == 0 and result.stderr == "", result.stderr

    services = yaml.safe_load((ROOT / "backend" / "docker-compose.yml").read_text())
    (network,) = services["networks"]["homu"]["ipam"]["config"]
    app_address = services["services"]["app"]["networks"]["homu"]["ipv4_address"]
    assert app_address == APP_CONTAINER_ADDRESS
    assert ipaddress.ip_address(app_address) in ipaddress.ip_network(network["subnet"])
    # Dynamic addresses come from a range without the app's, even while the app is stopped.
    assert ipaddress.ip_address(app_address) not in ipaddress.ip_network(network["ip_range"])
    assert services["services"]["proxy"]["networks"] == ["homu"]  # an address of its own, never the app's

    metadata = "169.254.169.254"
    assert not dropped(rule, APP_CONTAINER_ADDRESS, metadata)
    for other in ("172.30.0.2", "172.30.0.11", "172.17.0.2"):  # the proxy, a neighbour, the default bridge
        assert dropped(rule, other, metadata), other
        assert not dropped(rule, other, "52.95.195.100"), other  # the rest of the internet stays open


def test_the_metadata_check_can_fail():
    """A rule that names the wrong address, or that only logs, lets the proxy through."""
    wrong = [*metadata_rule("-I")]
    wrong[wrong.index("-s") + 1] = "172.30.0.0/24"
    assert not dropped(wrong, "172.30.0.2", "169.254.169.254")


@pytest.mark.parametrize("config", ["default", "production"])
def test_no_secret_value_in_user_data_only_references(request, config):
    stack = request.getfixturevalue(config)["homu-ec2"]
    text = user_data(stack)
    references = {"${" + r + "}" for r in TERRAFORM_REFERENCE.findall(text)}
    app = app_environment()
    logs = ref(
        stack.address("aws_cloudwatch_log_group", stack.named("aws_cloudwatch_log_group", "app-logs")), "name"
    )
    assert references - {logs} == {
        data_output(name)
        for name in (
            "database_password_secret_arn",
            "database_url",
            "database_admin_url",
            "database_app_user",
            "redis_url",
            "cache_id",
            "secret_key_key_arn",
            "secret_key_message",
        )
    }
    assert "random_password" not in text and "secret_string" not in text
    assert not LEAKED_SECRET.search(text)
    # The one secret is fetched at every start, into db-init's file only; the rest are written as they are.
    assert (
        'DATABASE_PASSWORD="$(secret "'
        + data_output("database_password_secret_arn")
        + "\" | jq -r '.password')\""
        in text
    )
    script = next(f["content"] for f in yaml.safe_load(text)["write_files"] if f["path"] == RENDER_ENV)
    app_file, init_file = entries_of(script, "app_entries"), entries_of(script, "init_entries")
    assert init_file == {
        "DATABASE_PASSWORD": '"$DATABASE_PASSWORD"',
        "DATABASE_URL": f"'{app.init_variables['DATABASE_URL']}'",
        "DATABASE_APP_USER": f"'{app.init_variables['DATABASE_APP_USER']}'",
    }
    assert app_file == {
        **{name: f"'{value}'" for name, value in app.variables.items()},
        "API_V1_STR": "'/api/v1'",
        "AWS_REGION": "'ap-northeast-2'",
        **({"DOMAIN": "'api.homu.example.com'"} if config == "production" else {}),
    }
    assert "DATABASE_PASSWORD" not in app_file and app_file["DATABASE_AUTH"] == "'iam'"


def entries_of(script: str, function: str) -> dict[str, str]:
    """The ``entry NAME VALUE`` lines of one of the render script's functions."""
    body = script.split(f"{function}() {{\n", 1)[1].split("\n}", 1)[0]
    pairs = [line.strip().removeprefix("entry ").split(" ", 1) for line in body.splitlines()]
    return dict(pairs)


def test_secret_scan_catches_a_leaked_value():
    leaked = "#cloud-config\nwrite_files:\n- content: |\n    REDIS_PASSWORD='Zx81kq0PlmN3vB7t'\n"
    assert LEAKED_SECRET.search(leaked)


def test_host_alarms_include_status_checks_with_auto_recovery(default):
    stack = default["homu-ec2"]
    alarms = {a["alarm_name"]: a for a in stack.resources("aws_cloudwatch_metric_alarm").values()}
    instance = ref(stack.address("aws_instance", stack.resource("aws_instance")))
    cpu = alarms["homu-backend-cpu-high"]
    assert (cpu["metric_name"], cpu["threshold"], cpu["dimensions"]) == (
        "CPUUtilization",
        80,
        {"InstanceId": instance},
    )
    system = alarms["homu-backend-system-check-failed"]
    assert system["metric_name"] == "StatusCheckFailed_System"
    assert "arn:aws:automate:ap-northeast-2:ec2:recover" in system["alarm_actions"]
    assert alarms["homu-backend-instance-check-failed"]["metric_name"] == "StatusCheckFailed_Instance"


def test_outputs_give_the_address_and_the_way_in(default, production):
    outputs = default["homu-ec2"].outputs
    instance = default["homu-ec2"].address("aws_instance", default["homu-ec2"].resource("aws_instance"))
    assert (
        outputs["shell_command"]["value"]
        == f"aws ssm start-session --region ap-northeast-2 --target ${{{instance}.id}}"
    )
    assert outputs["url"]["value"].startswith("http://${aws_eip.")
    assert {"public_ip", "instance_id"} <= set(outputs)
    # Production's domain points at Fargate (dns_target): the host is reached by its address.
    assert production["homu-ec2"].outputs["url"]["value"].startswith("http://${aws_eip.")


def test_domain_in_a_zone_gets_an_a_record_and_reaches_the_proxy(synth):
    stack = synth(**PRODUCTION, dns_target="homu-ec2")["homu-ec2"]
    record = stack.resource("aws_route53_record")
    address = stack.address("aws_eip", next(iter(stack.resources("aws_eip").values())))
    assert (record["name"], record["type"], record["records"]) == (
        "api.homu.example.com",
        "A",
        [ref(address, "public_ip")],
    )
    assert "entry DOMAIN 'api.homu.example.com'" in user_data(stack)


@pytest.mark.parametrize("dns_target", ["homu-fargate", "homu-ec2"])
def test_one_compute_answers_the_domain_so_both_can_run_at_once(synth, dns_target):
    """With a hosted zone both computes would write the same A record; dns_target names the one that does."""
    configured = synth(**PRODUCTION, dns_target=dns_target)
    fargate, ec2 = configured["homu-fargate"], configured["homu-ec2"]
    records = {
        name: [r for r in configured[name].resources("aws_route53_record").values() if r["type"] == "A"]
        for name in ("homu-fargate", "homu-ec2")
    }
    assert {name: len(found) for name, found in records.items()} == {
        "homu-fargate": int(dns_target == "homu-fargate"),
        "homu-ec2": int(dns_target == "homu-ec2"),
    }
    (answer,) = records[dns_target]
    assert answer["name"] == "api.homu.example.com"
    # The other keeps serving on its own address; Fargate keeps its validated certificate.
    assert fargate.resources("aws_acm_certificate_validation")
    urls = {name: configured[name].outputs["url"]["value"] for name in ("homu-fargate", "homu-ec2")}
    assert urls[dns_target] == "https://api.homu.example.com"
    other = "homu-ec2" if dns_target == "homu-fargate" else "homu-fargate"
    assert "api.homu.example.com" not in urls[other]
    assert "api.homu.example.com" in user_data(ec2)  # Caddy keeps the domain for when it points here


def test_a_host_that_does_not_answer_the_domain_says_so(synth):
    """EC2 alone in a zone with the default dns_target would get no record and no certificate."""
    from modules.app import warnings

    configured = synth(**PRODUCTION)
    found = [
        w for w in warnings(configured.outdir) if w.startswith("homu-ec2: api.homu.example.com points at")
    ]
    assert found and "HOMU_DNS_TARGET=homu-ec2" in found[0]
    assert not [w for w in warnings(synth(**PRODUCTION, dns_target="homu-ec2").outdir) if "points at" in w]


# --- the containers' logs in CloudWatch Logs ------------------------------------------------------


def logging_override(stack: Stack) -> dict:
    """The compose override as user data writes it, references unresolved."""
    config = yaml.safe_load(user_data(stack))
    (entry,) = [f for f in config["write_files"] if f["path"] == LOGGING_OVERRIDE]
    return yaml.safe_load(entry["content"])


def test_every_container_logs_to_the_stacks_group_one_stream_each(default):
    stack = default["homu-ec2"]
    group = stack.address("aws_cloudwatch_log_group", stack.named("aws_cloudwatch_log_group", "app-logs"))
    services = logging_override(stack)["services"]
    compose = yaml.safe_load((ROOT / "backend" / "docker-compose.yml").read_text())
    assert list(services) == list(COMPOSE_SERVICES) and set(services) == set(compose["services"])
    for service, body in services.items():
        assert body == {
            "logging": {
                "driver": "awslogs",
                "options": {
                    "awslogs-region": "ap-northeast-2",
                    "awslogs-group": ref(group, "name"),
                    "awslogs-stream": service,
                    "awslogs-create-group": "false",
                    "mode": "non-blocking",
                    "max-buffer-size": "4m",
                },
            }
        }
        # On a laptop the compose file alone keeps a local driver: no AWS needed.
        assert compose["services"][service]["logging"]["driver"] == "json-file"


def merged_logging(tmp_path: Path, override: dict) -> dict[str, dict]:
    """Each service's logging as Compose merges the backend's file and ``override`` (no engine needed)."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "backend", project, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    for name in (".env", "db-init.env"):
        (project / name).write_text("")
    (project / "override.yml").write_text(yaml.safe_dump(override))
    result = subprocess.run(
        [tool("docker-compose"), "config", "--format", "json"],
        cwd=project,
        env={"PATH": os.environ["PATH"], "COMPOSE_FILE": "docker-compose.yml:override.yml"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {name: body["logging"] for name, body in json.loads(result.stdout)["services"].items()}


def test_the_override_replaces_the_local_driver_whole(default, tmp_path):
    override = yaml.safe_load(written_file(default["homu-ec2"], LOGGING_OVERRIDE))
    merged = merged_logging(tmp_path / "host", override)
    assert merged == {name: body["logging"] for name, body in override["services"].items()}
    # The check can fail: an override of the same driver merges options instead (json-file's stay).
    same_driver = {
        "services": {"app": {"logging": {"driver": "json-file", "options": {"mode": "non-blocking"}}}}
    }
    assert merged_logging(tmp_path / "laptop", same_driver)["app"]["options"]["max-size"] == "10m"


def test_the_host_role_may_write_only_to_its_log_group(default):
    stack = default["homu-ec2"]
    policy = stack.named("aws_iam_role_policy", "host/container-logs")
    group = stack.address("aws_cloudwatch_log_group", stack.named("aws_cloudwatch_log_group", "app-logs"))
    assert policy["role"] == data_output("host_role_name")
    assert json.loads(policy["policy"])["Statement"] == [
        {
            "Sid": "WriteContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [ref(group, "arn") + ":*"],
        }
    ]


def access_log(caddyfile: str, tmp_path: Path) -> list[str]:
    """Where Caddy writes the access log of the site (``caddy adapt``), empty when it keeps none."""
    path = tmp_path / "Caddyfile"
    path.write_text(caddyfile)
    result = subprocess.run(
        [tool("caddy"), "adapt", "--config", str(path)],
        env={"PATH": os.environ["PATH"], "SITE_ADDRESS": ":80", "UPSTREAM": "app:8000"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    loggers = config.get("logging", {}).get("logs", {}).values()
    return [
        logger["writer"]["output"]
        for logger in loggers
        if any(name.startswith("http.log.access") for name in logger.get("include", []))
    ]


def test_caddy_writes_its_access_log_where_docker_takes_it(tmp_path):
    caddyfile = (ROOT / "backend" / "Caddyfile").read_text()
    assert access_log(caddyfile, tmp_path) == ["stdout"]
    without = re.sub(r"\tlog \{.*?\n\t\}\n", "", caddyfile, flags=re.DOTALL)
    assert "log {" not in without and access_log(without, tmp_path) == []
