"""The Terraform runner: the CLI environment (offline mirror, emulator-only networking), one run per
step with a time limit and a log, process-group stopping, and reading Terraform's output."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.rehearsal.errors import RehearsalError

PROVIDER_MIRROR = Path("/opt/tf-plugins")
# Time limit of each Terraform step, in seconds; measured runs take a fraction (docs/rehearsal.md).
TIMEOUTS = {
    "init": 300,
    "plan": 600,
    "apply": 1200,
    "re-plan": 600,
    "unprotect": 1200,
    "destroy": 1200,
    "lock": 300,
    "show": 120,
}
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
APPLIED = re.compile(r"Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed")
DESTROYED = re.compile(r"Destroy complete! Resources: (\d+) destroyed")
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def terraform_cli_environment(home: Path) -> dict[str, str]:
    """This environment without ``TF_*``, set up for unattended runs: a plugin cache in ``home`` and,
    when this machine has the offline provider mirror, a CLI config that installs from it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    cache = home / "plugin-cache"
    cache.mkdir(exist_ok=True)
    env.update({"TF_PLUGIN_CACHE_DIR": str(cache), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"})
    if PROVIDER_MIRROR.is_dir():
        config = home / "cli.tfrc"
        config.write_text(
            "provider_installation {\n  filesystem_mirror {\n"
            f'    path = "{PROVIDER_MIRROR}"\n    include = ["registry.terraform.io/hashicorp/*"]\n'
            "  }\n}\n"
        )
        env["TF_CLI_CONFIG_FILE"] = str(config)
    return env


def emulator_environment(base: dict[str, str]) -> dict[str, str]:
    """``base`` (a CLI environment) with dummy credentials and loopback-only networking."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_") and k.lower() not in _PROXY_VARIABLES}
    env.update(DUMMY_CREDENTIALS)
    # Each Terraform command starts the AWS provider two to four times, and each start builds its
    # whole schema, which is allocation-heavy: a laxer garbage collector takes a quarter off the CPU
    # of a plan (11.6 s -> 8.8 s measured) for ~140 MB more peak memory per provider process.
    env.setdefault("GOGC", "400")
    closed = f"http://127.0.0.1:{_closed_port()}"
    env.update(
        {
            "TF_INPUT": "0",
            # Go connects to loopback addresses directly and sends everything else to this proxy, on a
            # loopback port nothing listens on: a request that escaped the endpoints fails right here.
            "HTTP_PROXY": closed,
            "HTTPS_PROXY": closed,
            "NO_PROXY": "127.0.0.1,localhost",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return env


_closed: int | None = None


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once and released, so connections are refused)."""
    global _closed
    if _closed is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            _closed = probe.getsockname()[1]
    return _closed


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return (self.stderr + "\n" + self.stdout).strip()


class Terraform:
    """Runs the CLI in one stack directory with a time limit; logs every run to ``<dir>/logs``.

    A run also stops at the first internal error of the emulator (``errors`` grows).
    """

    def __init__(
        self, stack: str, directory: Path, env: dict[str, str], errors: list[str] | None = None
    ) -> None:
        self.stack, self.directory, self.env = stack, directory, env
        self.errors = errors if errors is not None else []
        self.logs = directory / "logs"
        self.logs.mkdir(exist_ok=True)

    def run(
        self, step: str, args: list[str], *, timeout: float, check: bool = True, ok: tuple[int, ...] = (0,)
    ) -> Run:
        started = time.monotonic()
        known_errors = len(self.errors)
        process = subprocess.Popen(
            ["terraform", *args],
            cwd=self.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        problem = ""
        try:
            while True:
                try:
                    stdout, stderr = process.communicate(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - started > timeout:
                        problem = f"terraform {args[0]} did not finish within {timeout:.0f} s"
                    elif len(self.errors) > known_errors:
                        problem = (
                            "the emulator failed on a request (a gap of the emulator, not of the stack):\n"
                            + self.errors[known_errors]
                        )
                    if problem:
                        stop_process_groups([process], grace=15)
                        stdout, stderr = process.communicate()
                        break
        finally:
            if process.poll() is None:  # interrupted (Ctrl-C, SIGTERM): no Terraform outlives the rehearsal
                stop_process_groups([process], grace=15)
        run = Run(process.returncode, stdout, stderr, time.monotonic() - started)
        self._log(step, args, stdout, stderr)
        if problem:
            raise RehearsalError(self.stack, step, problem, tail(stderr + "\n" + stdout))
        if check and run.returncode not in ok:
            message = f"terraform {args[0]} exited with {run.returncode}"
            if len(self.errors) > known_errors:
                message += "; the emulator failed on a request:\n" + self.errors[known_errors]
            raise RehearsalError(self.stack, step, message, diagnostics(run))
        return run

    def outputs(self) -> dict[str, Any]:
        """The stack's output values, as Terraform reports them from the state."""
        run = self.run("output", ["output", "-json", "-no-color"], timeout=TIMEOUTS["show"])
        return {name: item["value"] for name, item in json.loads(run.stdout).items()}

    def start_interactive(self, args: list[str]) -> tuple[subprocess.Popen, queue.Queue[str | None]]:
        """Terraform with input on and a stdin to answer its prompts. Its output (stdout and stderr)
        arrives in the queue in chunks as printed, since a prompt ends without a newline; None ends it."""
        env = {k: v for k, v in self.env.items() if k != "TF_INPUT"}
        process = subprocess.Popen(
            ["terraform", *args],
            cwd=self.directory,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            bufsize=0,
        )
        chunks: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(process.stdout, chunks), daemon=True).start()
        return process, chunks

    def _log(self, step: str, args: list[str], stdout: str, stderr: str) -> None:
        name = re.sub(r"[^a-z0-9-]+", "-", step.lower()).strip("-")
        with open(self.logs / f"{name}.log", "a") as log:
            log.write(f"$ terraform {' '.join(args)}\n{stdout}\n--- stderr ---\n{stderr}\n")


def _pump(stream: Any, chunks: queue.Queue[str | None]) -> None:
    while data := os.read(stream.fileno(), 4096):
        chunks.put(data.decode(errors="replace"))
    chunks.put(None)


def stop_process_groups(processes: list[subprocess.Popen], grace: float) -> None:
    """Terminates each child's process group (Terraform's provider plugins, a rehearsal's Terraform),
    all at once, then kills what is still there after ``grace`` seconds."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def diagnostics(run: Run) -> str:
    """Terraform's error blocks (stderr with -no-color), then the end of what it printed before them."""
    return (run.stderr.strip() + "\n" + tail(run.stdout, 30)).strip()


def summary_line(stdout: str) -> str:
    """Terraform's one-line verdict of a plan, apply or destroy."""
    for prefix in ("Apply complete!", "Destroy complete!", "Plan:", "No changes."):
        for line in stdout.splitlines():
            if line.strip().startswith(prefix):
                return line.strip()
    return ""


def plan_body(stdout: str) -> str:
    """The part of Terraform's output that lists changes (from 'Terraform will perform' on)."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "Terraform will perform" in line), 0)
    return tail("\n".join(lines[start:]), 200)
