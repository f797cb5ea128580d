"""Where GitHub Actions workflows run repository code, and whether a credential is there when they do.

A step runs repository code when it calls make, Python, Pipenv, npm, Node, Terraform, the cdktf CLI,
a script file, ``docker build``/``compose`` or a local action. That code is the pull request's when
the job checked out the pull request: every checkout in a ``pull_request`` workflow, and a checkout of
the head (``head_sha``, ``head_ref``, ``pull_request.head``...) anywhere else. A credential is there
when the job has any ``write`` permission (``id-token: write`` puts the token request variables in every
step) or once a step has configured AWS credentials. Terraform on JSON a job downloaded (a pull
request's synthesis) must wait for the allowlist, ``python -m tools.ci prepare``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

CODE_COMMANDS = {"make", "python", "python3", "pipenv", "npm", "npx", "node", "cdktf", "terraform"}
_SEGMENTS = re.compile(r"&&|\|\||[;|\n]|\$\(")
_HEAD = re.compile(r"head|pull_request|merge")


def findings(path: Path) -> list[str]:
    """``workflow/job/step: why`` for every step that breaks the rules in the module docstring."""
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow.get(True) or workflow.get("on") or {}
    triggers = [triggers] if isinstance(triggers, str) else list(triggers)
    found = []
    for job_name, job in workflow.get("jobs", {}).items():
        permissions = job.get("permissions", workflow.get("permissions", {}))
        writes = _writes(permissions)
        steps = job.get("steps", [])
        untrusted = any(_checks_out_pull_request(step, triggers) for step in steps)
        downloads = any(_uses(step, "actions/download-artifact") for step in steps)
        configured = allowlisted = False
        for index, step in enumerate(steps):
            label = f"{path.name}/{job_name}/{step.get('name') or step.get('uses') or f'step {index + 1}'}"
            configured |= _uses(step, "aws-actions/configure-aws-credentials")
            credential = ", ".join(
                [f"{w}: write" for w in writes] + (["AWS credentials"] if configured else [])
            )
            code = code_in(step)
            if code and credential and untrusted:
                found.append(f"{label}: runs the pull request's code (`{code}`) where {credential} is")
            if downloads and credential and not allowlisted and "terraform" in _commands(step):
                found.append(
                    f"{label}: runs terraform on downloaded JSON before `python -m tools.ci prepare`"
                )
            allowlisted |= "tools.ci prepare" in step.get("run", "")
    return found


def code_in(step: dict[str, Any]) -> str | None:
    """The first command of ``step`` that runs repository code, or None."""
    if step.get("uses", "").startswith("./"):
        return step["uses"]
    for segment in _SEGMENTS.split(step.get("run", "")):
        words = _words(segment)
        if not words:
            continue
        command = words[0].rsplit("/", 1)[-1]
        if (
            command in CODE_COMMANDS
            or words[0].startswith("./")
            or (command in ("bash", "sh") and len(words) > 1 and not words[1].startswith("-"))
            or (command == "docker" and len(words) > 1 and words[1] in ("build", "compose"))
        ):
            return segment.strip()
    return None


def _commands(step: dict[str, Any]) -> set[str]:
    return {words[0].rsplit("/", 1)[-1] for s in _SEGMENTS.split(step.get("run", "")) if (words := _words(s))}


def _words(segment: str) -> list[str]:
    try:
        words = shlex.split(segment, comments=True)
    except ValueError:
        words = segment.split()
    while words and "=" in words[0] and not words[0].startswith(("-", "./")):  # VAR=value command
        words = words[1:]
    return words


def _writes(permissions: Any) -> list[str]:
    if permissions == "write-all":
        return ["all"]
    if not isinstance(permissions, dict):
        return []
    return sorted(scope for scope, level in permissions.items() if level == "write")


def _uses(step: dict[str, Any], action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def _checks_out_pull_request(step: dict[str, Any], triggers: list[str]) -> bool:
    if not _uses(step, "actions/checkout"):
        return False
    chosen = " ".join(str(step.get("with", {}).get(key, "")) for key in ("ref", "repository"))
    if "pull_request" in triggers:
        return "base.sha" not in chosen  # pull_request checks out the pull request unless told the base
    return bool(_HEAD.search(chosen))
