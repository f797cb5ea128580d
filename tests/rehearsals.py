"""The deploy rehearsals the suite runs (``python -m tools.rehearsal``), in background processes.

A rehearsal takes minutes, mostly the provider's own waits (RDS, the ALB, S3 lifecycle rules), so
``conftest.pytest_collection_finish`` starts the lanes the selected tests name in their
``rehearsal(LANE, ...)`` marks as soon as collection ends, and they run beside the rest of the suite.
Each lane is its own process with its own emulator and ``homu-state`` bucket (moto keeps its state per
process, and the two configurations share resource names, so they cannot share an account): one per
configuration (``python -m tools.rehearsal --config NAME``: homu-state, homu-data, then each compute
on it), the cdktf CLI lane (``tests/cli_lane.py``) and the negative lane.

The longest lanes (production, whose teardown first lifts deletion protection, and the CLI lane) set
the wall time; they keep normal CPU priority and the others yield to them, because each Terraform
command spends seconds of CPU loading the AWS provider and two cores are shared by everything.

``python -m tests.rehearsals perpetual-diff REPORT`` is the negative lane: ``homu-state`` with a tag
that changes on every plan, reporting what the rehearsal raised and whether it cleaned up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.names import STATE_STACK
from tools.interrupt import terminate
from tools.rehearsal.errors import RehearsalError
from tools.rehearsal.run import Rehearsal
from tools.rehearsal.terraform import stop_process_groups

ROOT = Path(__file__).resolve().parent.parent
# From the first start to the last finish, everything together.
BUDGET_SECONDS = 20 * 60
NEGATIVE_LANE = "perpetual-diff"
CLI_LANE = "cdktf-cli"
ADOPTION_LANE = "adoption"
# lane -> CPU niceness (0 = normal priority), longest lane first. A configuration's lane is the whole
# rehearsal of that configuration: homu-state, homu-data, then each compute on it.
LANES = {
    "production": 0,
    CLI_LANE: 0,
    "default": 5,
    ADOPTION_LANE: 10,
    NEGATIVE_LANE: 15,
}
CONFIG_LANES = ("default", "production")


@dataclass
class Finished:
    name: str
    returncode: int
    output: str
    report: dict[str, Any] | None
    seconds: float

    def explain(self) -> str:
        return f"{self.name} exited with {self.returncode} ({self.seconds:.0f} s):\n" + "\n".join(
            self.output.splitlines()[-80:]
        )


class Rehearsals:
    """The named lanes, started together; ``finished(name)`` waits for one within the shared budget."""

    def __init__(self, lanes: Iterable[str]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="homu-rehearsals-"))
        self.started_at = time.time()
        self.deadline = time.monotonic() + BUDGET_SECONDS
        self.jobs: dict[str, tuple[subprocess.Popen, Path, Path]] = {}
        self.results: dict[str, Finished] = {}
        for name in lanes:
            self._start(name, LANES[name])

    def _start(self, name: str, niceness: int) -> None:
        log, report = self.directory / f"{name}.log", self.directory / f"{name}.json"
        if name == NEGATIVE_LANE:
            arguments = ["-m", "tests.rehearsals", name, str(report)]
        elif name == CLI_LANE:
            arguments = ["-m", "tests.cli_lane", str(report)]
        elif name == ADOPTION_LANE:
            arguments = ["-m", "tests.adopt_lane", str(report)]
        else:
            arguments = ["-m", "tools.rehearsal", "--config", name, "--report", str(report)]
        # nice(1) execs the lane in place; a preexec_fn calling os.nice is unsafe while threads run.
        command = ["nice", "-n", str(niceness), sys.executable, *arguments]
        # The rehearsal configures the Terraform CLI itself (offline mirror, dummy credentials).
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "HOMU_"))}
        with open(log, "w") as stream:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.jobs[name] = (process, log, report)

    def finished(self, name: str) -> Finished:
        if name not in self.results:
            process, log, report = self.jobs[name]
            try:
                process.wait(timeout=max(self.deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                self.stop()
                raise AssertionError(
                    f"{name} did not finish within the {BUDGET_SECONDS // 60}-minute budget of the rehearsals:\n"
                    + log.read_text()[-6000:]
                ) from None
            data = json.loads(report.read_text()) if report.exists() else None
            # The lane's last write to its log is when it ended, however long ago that was.
            self.results[name] = Finished(
                name, process.returncode, log.read_text(), data, log.stat().st_mtime - self.started_at
            )
        return self.results[name]

    def stop(self) -> None:
        """Stops what still runs (SIGTERM lets a rehearsal stop its Terraform and emulator first)."""
        stop_process_groups([process for process, _, _ in self.jobs.values()], grace=60)

    def close(self) -> list[str]:
        """Stops the lanes, removes their directory, and returns one line per finished lane."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
        return [
            f"rehearsal {r.name}: exit {r.returncode}, finished {r.seconds:.0f} s after the start"
            + _stacks(r)
            for r in self.results.values()
        ]


def _stacks(lane: Finished) -> str:
    """Per stack: resources created, whether the re-plan was clean, time; per step for the CLI lane
    (the CI log keeps this)."""
    if lane.name in (CLI_LANE, ADOPTION_LANE):
        return "".join(
            f"; {s['step']} exit {s['exit']}, {s['seconds']:.0f} s"
            for s in (lane.report or {}).get("steps", [])
        )
    return "".join(
        f"; {s['name']} {s['created']} created, re-plan {'clean' if s['clean'] else 'CHANGES'}, {s['seconds']:.0f} s"
        for s in (lane.report or {}).get("stacks", [])
    )


def stack_result(report: dict[str, Any], name: str) -> dict[str, Any]:
    (stack,) = [s for s in report["stacks"] if s["name"] == name]
    return stack


def steps(stack: dict[str, Any]) -> dict[str, str]:
    return {step: detail for step, _, detail in stack["steps"]}


def _timestamp_tag(stack: str, config: dict[str, Any]) -> None:
    for bucket in config["resource"]["aws_s3_bucket"].values():
        bucket["tags"] = {"RehearsedAt": "${timestamp()}"}


def perpetual_diff(report: Path) -> None:
    """The negative lane: a rehearsal of ``homu-state`` with a tag that changes on every plan. Its
    report is the rehearsal's own, plus whether the emulator and the work directory are gone."""
    # Stopped like the command line: Terraform, the emulator and the work directory go first.
    signal.signal(signal.SIGTERM, terminate)
    rehearsal = Rehearsal("default", stacks=(STATE_STACK,), transform=_timestamp_tag)
    try:
        rehearsal.run()
    except RehearsalError:
        pass  # expected; report() carries it
    host, port = rehearsal.emulator_url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        server_stopped = False
    except OSError:
        server_stopped = True
    outcome = {
        **rehearsal.report(),
        "server_stopped": server_stopped,
        "workdir_removed": not rehearsal.workdir.exists(),
    }
    report.write_text(json.dumps(outcome))


if __name__ == "__main__":
    if sys.argv[1:2] != [NEGATIVE_LANE] or len(sys.argv) != 3:
        sys.exit(f"usage: python -m tests.rehearsals {NEGATIVE_LANE} REPORT")
    perpetual_diff(Path(sys.argv[2]))
