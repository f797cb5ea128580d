"""The privileged plan job's two halves, both run from the base branch.

``prepare`` (no credentials yet): checks every stack of the uploaded synthesis against the allowlist,
copies each stack's JSON alone into a fresh directory beside the base branch's lock file (so no
``override.tf.json``, ``.terraform`` or lock file of the pull request's comes along), and installs the
locked provider into a plugin directory from a configuration the base branch writes itself.

``run`` (with the plan role): ``terraform init -lockfile=readonly -plugin-dir`` and ``terraform plan
-lock=false`` per stack in deploy order, into the files ``tools/plan_summary.py`` reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from modules.names import REMOTE_STATE_STACKS
from modules.settings import Settings
from tools.ci.allowlist import AWS_PROVIDER, PROVIDER_LOCK, locked_version, refusals

CONFIG_FILE = "main.tf.json"
PLUGINS = "plugins"  # under the work directory
_PROVIDERS_ONLY = ".providers"  # the base branch's own configuration that installs the provider
TIMEOUT = 1200


class Refused(Exception):
    """The synthesis may not be planned: one line per reason."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def check(synthesized: Path, settings: Settings) -> dict[str, dict]:
    """Each remote-state stack's JSON from ``synthesized`` (a cdktf.out), if all pass the allowlist."""
    version = locked_version()
    configs: dict[str, dict] = {}
    lines: list[str] = []
    for stack in REMOTE_STATE_STACKS:
        path = synthesized / "stacks" / stack / "cdk.tf.json"
        try:
            configs[stack] = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            lines.append(f"{stack}: {path} is not readable JSON ({error})")
            continue
        lines += refusals(stack, configs[stack], settings, version)
    if lines:
        raise Refused(lines)
    return configs


def prepare(synthesized: Path, settings: Settings, work: Path) -> list[str]:
    """Checks, then lays out ``work``: one directory per stack and the plugin directory. Nothing is
    written when a check fails. Returns the stacks prepared."""
    configs = check(synthesized, settings)
    if work.exists():
        shutil.rmtree(work)
    for stack, config in configs.items():
        directory = work / stack
        directory.mkdir(parents=True)
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        shutil.copyfile(PROVIDER_LOCK, directory / ".terraform.lock.hcl")
    _install_provider(work)
    return list(configs)


def _install_provider(work: Path) -> None:
    """The locked aws provider, checked against the lock file's hashes, unpacked into ``work/plugins``."""
    directory = work / _PROVIDERS_ONLY
    directory.mkdir()
    requirement = {"aws": {"source": AWS_PROVIDER, "version": locked_version()}}
    (directory / CONFIG_FILE).write_text(json.dumps({"terraform": {"required_providers": requirement}}))
    shutil.copyfile(PROVIDER_LOCK, directory / ".terraform.lock.hcl")
    _terraform(directory, "init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly")
    shutil.copytree(directory / ".terraform" / "providers", work / PLUGINS, symlinks=False)
    shutil.rmtree(directory)


def _terraform(directory: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["terraform", f"-chdir={directory}", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if check and result.returncode != 0:
        raise Refused([f"terraform {args[0]} in {directory} failed:", result.stdout + result.stderr])
    return result


def run(work: Path, out: Path) -> bool:
    """Plans every prepared stack into ``out`` (``<stack>.txt``, ``.exit``, ``.json``); False if one failed.

    A compute's plan reads homu-data's outputs from its applied state, not from this run's plan of it.
    """
    out.mkdir(parents=True, exist_ok=True)
    plugins = (work / PLUGINS).resolve()
    ok = True
    for stack in REMOTE_STATE_STACKS:
        directory = work / stack
        if not directory.is_dir():
            continue
        init = _terraform(
            directory,
            "init",
            "-input=false",
            "-no-color",
            "-lockfile=readonly",
            f"-plugin-dir={plugins}",
            check=False,
        )
        if init.returncode != 0:
            (out / f"{stack}.txt").write_text(init.stdout + init.stderr)
            (out / f"{stack}.exit").write_text("1\n")
            ok = False
            continue
        plan = _terraform(
            directory,
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            "-detailed-exitcode",
            "-out=tfplan",
            check=False,
        )
        (out / f"{stack}.txt").write_text(plan.stdout + plan.stderr)
        (out / f"{stack}.exit").write_text(f"{plan.returncode}\n")
        if plan.returncode == 1:
            ok = False
            continue
        (out / f"{stack}.json").write_text(_terraform(directory, "show", "-json", "tfplan").stdout)
        print(f"{stack}: {'no changes' if plan.returncode == 0 else 'changes'}", file=sys.stderr)
    return ok
