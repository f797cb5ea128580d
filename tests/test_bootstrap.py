"""The README's two commands: the make targets and tools/bootstrap.py that sets up a fresh clone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import bootstrap

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAKE, "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_make_without_a_target_lists_every_target_on_one_line_each():
    result = make()
    assert result.returncode == 0, result.stderr
    listed = [line.split()[1] for line in result.stdout.splitlines()]
    assert listed == ["help", "synth", "test", "bench", "scan", "cost", "review", "adopt", "drift", "doctor"]
    assert all(len(line.split(maxsplit=2)) == 3 for line in result.stdout.splitlines()), result.stdout


def test_make_targets_set_up_only_through_the_bootstrap_and_the_project_environments():
    """No recipe line calls pip: the bootstrap does, with the interpreter of .bootstrap/ only."""
    result = make("-n", "synth", "test", "bench", "scan", "cost", "PYTHON=/usr/bin/python3")
    assert result.returncode == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.strip()]
    assert commands, result.stdout
    for command in commands:
        assert "pip " not in command and "pip3" not in command, command
        assert command.startswith(("/usr/bin/python3 -m tools.bootstrap ", ".bootstrap/bin/pipenv run ")), (
            command
        )
    assert commands.index("/usr/bin/python3 -m tools.bootstrap test") < commands.index(
        ".bootstrap/bin/pipenv run test"
    )


@pytest.fixture
def recorded(tmp_path, monkeypatch) -> list[list[str]]:
    """The commands the bootstrap would run on a fresh clone, recorded instead of run."""
    commands: list[list[str]] = []

    def record(argv: list[str], quiet: bool = False) -> None:
        commands.append(argv)
        if "venv" in argv:
            (tmp_path / "bootstrap").mkdir(exist_ok=True)
        if "sync" in argv:
            (tmp_path / "venv").mkdir(exist_ok=True)

    monkeypatch.setattr(bootstrap, "BOOTSTRAP_DIR", tmp_path / "bootstrap")
    monkeypatch.setattr(bootstrap, "VENV_DIR", tmp_path / "venv")
    monkeypatch.setattr(bootstrap, "run", record)
    monkeypatch.setattr(bootstrap, "interpreter_version", lambda python: "3.11.2 (fake)")
    return commands


def test_the_system_interpreter_only_creates_the_bootstrap_environment(recorded, tmp_path):
    bootstrap.ensure_python_packages(dev=True, python="/usr/bin/python3")
    system = [command for command in recorded if command[0] == "/usr/bin/python3"]
    assert system == [["/usr/bin/python3", "-m", "venv", "--clear", str(tmp_path / "bootstrap")]]
    pip = [command for command in recorded if "pip" in command]
    assert pip and all(command[0] == str(tmp_path / "bootstrap" / "bin" / "python") for command in pip)
    pipenv = str(tmp_path / "bootstrap" / "bin" / "pipenv")
    # sync, then clean: a package an older lock had and this one dropped is removed.
    assert recorded[-2:] == [[pipenv, "sync", "--python", "/usr/bin/python3", "--dev"], [pipenv, "clean"]]


def test_a_second_run_with_the_same_lock_does_nothing(recorded):
    bootstrap.ensure_python_packages(dev=True, python=sys.executable)
    recorded.clear()
    bootstrap.ensure_python_packages(dev=False, python=sys.executable)  # the dev set includes the runtime set
    assert recorded == []


def test_the_runtime_set_does_not_serve_the_tests(recorded):
    bootstrap.ensure_python_packages(dev=False, python=sys.executable)
    recorded.clear()
    bootstrap.ensure_python_packages(dev=True, python=sys.executable)
    assert [command[1:] for command in recorded] == [["sync", "--python", sys.executable, "--dev"], ["clean"]]


@pytest.mark.parametrize("version", [(3, 10), (3, 14)])
def test_an_unsupported_python_is_named_with_the_supported_range(version):
    with pytest.raises(bootstrap.BootstrapError) as raised:
        bootstrap.check_python(version)
    [line] = raised.value.lines
    assert f"is {version[0]}.{version[1]}; supported: 3.11 to 3.13" in line


def test_missing_tools_stop_make_test_with_one_line_each_before_any_test(tmp_path):
    """With nothing but an interpreter (no PATH, so no apt-get either), `make test` names every
    missing tool with the command that installs it and runs no test."""
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    result = make("test", f"PYTHON={sys.executable}", env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    named = [line.split()[1] for line in lines]
    assert named == [
        "node",
        "npm",
        "terraform",
        "redis-server",
        "caddy",
        "openssl",
        "cloud-init",
        "systemd-analyze",
        "jq",
        "unshare",
        "chromium",
    ], result.stderr
    assert all(line.startswith("missing: ") and "; install: " in line for line in lines)
    assert (
        "install: sudo apt-get install -y caddy" in result.stderr
        or "install: apt-get install -y caddy" in (result.stderr)
    )
    assert "install Terraform 1.11+" in result.stderr
    assert "pytest" not in result.stdout + result.stderr and "passed" not in result.stdout


def test_tools_present_on_this_machine_are_not_reported(monkeypatch):
    monkeypatch.setattr(bootstrap, "apt_command", lambda: None)
    bootstrap.ensure_tools(bootstrap.RUNTIME_TOOLS + bootstrap.TEST_TOOLS, install=False)


def test_an_environment_whose_interpreter_no_longer_runs_is_made_again(recorded, tmp_path, monkeypatch):
    """A removed interpreter leaves .venv/bin/python dangling while the stamps still look current."""
    bootstrap.ensure_python_packages(dev=True, python=sys.executable)
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(tmp_path / "gone")
    monkeypatch.setattr(
        bootstrap,
        "interpreter_version",
        lambda python: "" if "gone" in str(Path(python).resolve()) else "3.11.2",
    )
    recorded.clear()
    bootstrap.ensure_python_packages(dev=True, python=sys.executable)
    assert not (tmp_path / "venv" / "bin").exists() or not (tmp_path / "venv" / "bin" / "python").is_symlink()
    assert [command[1] for command in recorded] == ["sync", "clean"]


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("synth", "bootstrap synth: ready (.venv/ holds the runtime packages, node_modules/ the cdktf CLI)"),
        (
            "dev",
            "bootstrap dev: ready (.venv/ holds the runtime and development packages, node_modules/ the cdktf CLI)",
        ),
    ],
)
def test_a_successful_set_up_says_what_is_ready(recorded, monkeypatch, capsys, target, said):
    monkeypatch.setattr(bootstrap, "ensure_tools", lambda tools, install: None)
    monkeypatch.setattr(bootstrap, "ensure_node_packages", lambda: None)
    assert bootstrap.main([target]) == 0
    assert capsys.readouterr().out == said + "\n"
