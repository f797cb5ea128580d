"""Serve mode of the deploy rehearsal (``python -m tools.rehearsal --serve``): the prepared emulator runs
until SIGINT or SIGTERM and prints what a shell needs to deploy to it, and only to it."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.parsers import ResponseParserError

from modules.settings import env_name
from tools.rehearsal.emulator import emulator_client
from tools.rehearsal.serve import EXPORT, READY, read_export
from tools.rehearsal.settings import (
    PRODUCTION_FILE,
    REHEARSAL_AMI_NAME,
    REHEARSAL_SETTINGS,
    rehearsal_settings,
)
from tools.rehearsal.terraform import PROVIDER_MIRROR

ROOT = Path(__file__).resolve().parents[1]
STARTUP = 120  # seconds: a few measured (importing moto, preparing the account), more on a busy machine
STOP = 30  # seconds to stop, or to report an emulator error, once serving
# What any serve run must print, whatever the configuration and the machine.
REQUIRED = {
    "HOMU_ENDPOINT_URL",
    *(env_name(key) for key in REHEARSAL_SETTINGS),
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    *(["TF_CLI_CONFIG_FILE"] if PROVIDER_MIRROR.is_dir() else []),
}


class Served:
    """``python -m tools.rehearsal --serve ...`` with its output lines arriving in queues."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.rehearsal", "--serve", *args],
            cwd=ROOT,
            # Block-buffered stdout, as any parent without PYTHONUNBUFFERED gets: the lines must be flushed.
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: queue.Queue[str | None] = queue.Queue()
        self.stderr_seen: list[str] = []
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def line(self, lines: queue.Queue[str | None], deadline: float) -> str:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            pytest.fail(f"no output within the time limit; stderr so far:\n{self._stderr_so_far()}")
        if line is None:
            pytest.fail(f"serve exited with {self.process.wait()}; stderr:\n{self._stderr_so_far()}")
        if lines is self.stderr:
            self.stderr_seen.append(line)
        return line

    def exports(self) -> tuple[str, dict[str, str]]:
        """The endpoint line (the first line) and every export line printed up to the required ones."""
        deadline = time.monotonic() + STARTUP
        first = self.line(self.stdout, deadline)
        assert first.startswith("endpoint: http://127.0.0.1:"), first
        exports: dict[str, str] = {}
        while not REQUIRED <= exports.keys():
            name, value = read_export(self.line(self.stdout, deadline))
            assert name not in exports, f"{name} exported twice"
            exports[name] = value
        return first.removeprefix("endpoint: ").strip(), exports

    def wait_for_stderr(self, text: str) -> str:
        deadline = time.monotonic() + STOP
        line = ""
        while text not in line:
            line = self.line(self.stderr, deadline)
        return line

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=STOP)

    def remaining_stdout(self) -> list[str]:
        """Once it has exited: whatever it printed to stdout after the lines already read."""
        return list(iter(self.stdout.get, None))

    def _stderr_so_far(self) -> str:
        with contextlib.suppress(queue.Empty):
            while line := self.stderr.get_nowait():
                self.stderr_seen.append(line)
        return "".join(self.stderr_seen)


def _pump(stream, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@pytest.fixture
def serve():
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(*args))
        return started[-1]

    yield start
    for served in started:
        if served.process.poll() is None:  # a failed test: no emulator outlives it, nor its directory
            served.process.terminate()
            try:
                served.process.wait(timeout=STOP)
            except subprocess.TimeoutExpired:
                served.process.kill()
                served.process.wait()


def _accepts_connections(endpoint: str) -> bool:
    address = urlsplit(endpoint)
    try:
        socket.create_connection((address.hostname, address.port), timeout=5).close()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_prints_the_loopback_exports_serves_the_image_and_stops_on_sigint(serve):
    served = serve()
    endpoint, exports = served.exports()
    region = rehearsal_settings("default").region
    assert exports["HOMU_ENDPOINT_URL"] == endpoint
    for key, value in REHEARSAL_SETTINGS.items():
        assert exports[env_name(key)] == str(value)
    assert exports["HOMU_AMI_OWNER"] == "self"
    assert (exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert exports["AWS_REGION"] == region
    # Anything that escapes the endpoint overrides goes to a closed loopback port, not off the machine.
    assert exports["HTTP_PROXY"] == exports["HTTPS_PROXY"]
    assert urlsplit(exports["HTTPS_PROXY"]).hostname == "127.0.0.1"
    assert urlsplit(exports["HTTPS_PROXY"]).port != urlsplit(endpoint).port
    assert "127.0.0.1" in exports["NO_PROXY"].split(",")
    assert (exports["AWS_CONFIG_FILE"], exports["AWS_SHARED_CREDENTIALS_FILE"]) == (os.devnull, os.devnull)
    assert "HOMU_SETTINGS_FILE" not in exports
    cli_config = Path(exports["TF_CLI_CONFIG_FILE"]) if PROVIDER_MIRROR.is_dir() else None
    if cli_config:
        assert f'path = "{PROVIDER_MIRROR}"' in cli_config.read_text()

    images = emulator_client("ec2", endpoint, region).describe_images(
        Owners=["self"], Filters=[{"Name": "name", "Values": [REHEARSAL_AMI_NAME]}]
    )["Images"]
    assert [image["Name"] for image in images] == [REHEARSAL_AMI_NAME]

    assert served.stop(signal.SIGINT) == 0
    assert not _accepts_connections(endpoint)
    # One endpoint line, then nothing but exports (those not needed to start with may follow), and last
    # the readiness line scripts wait for, a shell comment.
    *rest, last = served.remaining_stdout()
    assert all(EXPORT.fullmatch(line.rstrip("\n")) for line in rest) and last.rstrip("\n") == READY
    if cli_config:
        assert not cli_config.parent.exists()


def test_serve_on_a_chosen_port_shows_emulator_errors_and_stops_on_sigterm(serve):
    port = _free_port()
    served = serve("--config", "production", "--port", str(port))
    endpoint, exports = served.exports()
    assert endpoint == f"http://127.0.0.1:{port}"
    assert exports["HOMU_SETTINGS_FILE"] == str(PRODUCTION_FILE)
    production = rehearsal_settings("production")
    zones = emulator_client("route53", endpoint, production.region).list_hosted_zones()["HostedZones"]
    assert [zone["Name"] for zone in zones] == [f"{production.hosted_zone}."]

    # moto 5.2.5 has no ElastiCache parameter groups: a 500 whose traceback the user must see at once.
    with pytest.raises(ResponseParserError):  # an HTML error page, not an AWS error
        emulator_client("elasticache", endpoint, production.region).create_cache_parameter_group(
            CacheParameterGroupName="homu", CacheParameterGroupFamily="redis7", Description="homu"
        )
    assert "CreateCacheParameterGroup" in served.wait_for_stderr("emulator error:")

    assert served.stop(signal.SIGTERM) == 0
    assert not _accepts_connections(endpoint)


def refused_serve(*args: str) -> subprocess.CompletedProcess:
    """``--serve`` with ``args`` that make it exit before serving."""
    return subprocess.run(
        [sys.executable, "-m", "tools.rehearsal", "--serve", *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=STARTUP,
    )


def test_serve_refuses_the_rehearsal_options():
    result = refused_serve("--stacks", "homu-ec2")
    assert result.returncode == 2
    assert "--serve" in result.stderr and "--stacks" in result.stderr
    assert result.stdout == ""


def test_serve_refuses_a_busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = refused_serve("--port", str(port))
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr
    assert result.stdout == ""
