"""Every synthesized stack carries the committed provider lock file (providers.lock.hcl), so the cdktf
CLI never runs `terraform providers lock` (registry only), and its hash verifies the offline mirror."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_main
from tools.rehearsal.terraform import PROVIDER_MIRROR, terraform_cli_environment
from tools.tfjson import read_stacks

LOCK = ROOT / "providers.lock.hcl"
LOCKED = re.compile(r'provider "([^"]+)" \{\s*version\s*=\s*"([^"]+)"\s*constraints\s*=\s*"([^"]+)"')
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def qualified(source: str) -> str:
    """A required_providers source with the defaults Terraform fills in ("aws" -> registry.../hashicorp/aws)."""
    parts = source.split("/")
    return "/".join([*["registry.terraform.io", "hashicorp"][: 3 - len(parts)], *parts])


def assert_every_stack_locked(outdir: Path) -> None:
    stacks = read_stacks(outdir)
    assert stacks, f"no stacks under {outdir}"
    for name, stack in stacks.items():
        lock = stack.directory / ".terraform.lock.hcl"
        assert lock.is_file(), f"{name}: no .terraform.lock.hcl"
        assert lock.read_bytes() == LOCK.read_bytes(), f"{name}: the lock file differs from {LOCK.name}"


def test_every_stack_directory_gets_the_committed_lock_file(default):
    assert_every_stack_locked(default.outdir)


def test_the_lock_pins_exactly_the_providers_the_stacks_require(default):
    locked = {
        source: (version, constraints) for source, version, constraints in LOCKED.findall(LOCK.read_text())
    }
    for name, stack in default.stacks.items():
        required = {
            qualified(provider["source"]): (provider["version"], provider["version"])
            for provider in stack.config["terraform"]["required_providers"].values()
        }
        assert required == locked, f"{name} requires {required}; refresh {LOCK.name} (docs/deploying.md)"


def test_main_py_swaps_in_stacks_that_carry_the_lock_file(tmp_path):
    result = run_main(tmp_path)
    assert result.returncode == 0, result.stderr
    assert_every_stack_locked(tmp_path / "cdktf.out")


@pytest.fixture(scope="module")
def mirror_only(tmp_path_factory) -> dict[str, str]:
    """Terraform that installs providers from this machine's mirror and from nowhere else; without a
    mirror, from the registry (which checks the zh hashes instead of the h1)."""
    env = terraform_cli_environment(tmp_path_factory.mktemp("terraform"))
    if not PROVIDER_MIRROR.is_dir():
        return env
    env = {k: v for k, v in env.items() if k.lower() not in PROXY_VARIABLES}
    # A request to the registry goes to a closed loopback port and fails at once.
    return {**env, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


def init_readonly(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`terraform init` that must install exactly what the lock file in ``workdir`` says."""
    return subprocess.run(
        ["terraform", "init", "-backend=false", "-lockfile=readonly", "-input=false", "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.terraform
def test_the_lock_file_verifies_the_mirrors_provider(default, mirror_only, tmp_path):
    for name, stack in default.stacks.items():
        shutil.copytree(stack.directory, tmp_path / name)
        result = init_readonly(tmp_path / name, mirror_only)
        assert result.returncode == 0, f"{name}:\n{result.stderr}{result.stdout}"
        assert (tmp_path / name / ".terraform.lock.hcl").read_bytes() == LOCK.read_bytes()


@pytest.mark.terraform
def test_a_lock_file_with_another_hash_fails_against_the_mirror(default, mirror_only, tmp_path):
    """The test above can fail: the mirror's package is checked against the lock file's h1 hash."""
    stack = next(iter(default.stacks.values()))
    altered = tmp_path / "altered"
    shutil.copytree(stack.directory, altered)
    lock = altered / ".terraform.lock.hcl"
    # Every hash altered, so the package fails verification from the mirror (h1) and the registry (zh).
    text, count = re.subn(r'"(h1|zh):[^"]+"', lambda m: f'"{m.group(1)}:{"0" * 64}"', lock.read_text())
    assert count == 16
    lock.write_text(text)
    result = init_readonly(altered, mirror_only)
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "doesn't match any of the checksums previously recorded in the dependency lock file" in message, (
        result.stderr
    )
