"""``python -m tools.cdktf``, run against a fake cdktf CLI and a fake Terraform (no Node, no AWS).

The fakes behave like the real programs where it matters. The fake CLI aborts at once on SIGINT or
SIGTERM and kills its Terraform, as closing the real CLI's pseudo-terminal does, and runs one
Terraform per stack (the next after one failed). The fake Terraform runs the command
FAKE_TERRAFORM_ARGS names for FAKE_TERRAFORM_SECONDS; it stops gracefully after one SIGINT and at
once after a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.cdktf import CLI_PATH_VARIABLE, at_prompt

pytestmark = pytest.mark.skipif(not Path("/proc/self/comm").exists(), reason="finds Terraform through /proc")

# Both fakes name this interpreter in their #! line. With `#!/usr/bin/env python3`, env would exec
# python3 and /proc/<pid>/comm would say "python3". A direct #! keeps the script's own file name,
# "terraform".
FAKE_CLI = """#!{python}
import json, os, signal, subprocess, sys, time
from pathlib import Path

work = Path(__file__).parent
terraform = None


def abort(signum, frame):
    (work / "cli-aborted").touch()
    if terraform:
        terraform.kill()  # the real CLI closes Terraform's pty: a hang-up with no time to clean up
    os._exit(1)


signal.signal(signal.SIGINT, abort)
signal.signal(signal.SIGTERM, abort)
info = {{"args": sys.argv[1:], "pid": os.getpid(), "sid": os.getsid(0),
        "checkpoint": os.environ.get("CHECKPOINT_DISABLE"), "version_check": os.environ.get("DISABLE_VERSION_CHECK"),
        "node_options": os.environ.get("NODE_OPTIONS")}}
(work / "cli.json").write_text(json.dumps(info))
failed = False
for _ in range(int(os.environ.get("FAKE_RUN_TERRAFORM", "0"))):  # one per stack, the next after a failure
    arguments = os.environ.get("FAKE_TERRAFORM_ARGS", "apply").split()
    # The real CLI reads Terraform's output from a pseudo-terminal: none of it reaches the wrapper. Its
    # stdin is the CLI's to answer the approval prompt with (this one never answers).
    # As the real CLI, it runs the binary TERRAFORM_BINARY_NAME names (the wrapper's gate).
    terraform = subprocess.Popen(
        [os.environ["TERRAFORM_BINARY_NAME"], *arguments], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    while terraform.poll() is None:
        time.sleep(0.02)
        if os.environ.get("FAKE_CLI_CHATTER"):  # the CLI redraws its progress all the time
            try:
                print("homu-data  Still creating...", flush=True)
            except OSError:  # as Node: write EIO on a terminal that hung up, and the CLI dies
                (work / "cli-died-writing").touch()
                terraform.kill()
                os._exit(1)
    failed = terraform.returncode != 0 or failed
if terraform:
    sys.exit(1 if failed else 0)
time.sleep(float(os.environ.get("FAKE_CLI_SECONDS", "0")))
sys.exit(int(os.environ.get("FAKE_CLI_EXIT", "0")))
"""

FAKE_TERRAFORM = """#!{python}
import os, signal, sys, time
from pathlib import Path

work = Path(__file__).parent
interrupts = []
# FAKE_STUCK: a Terraform that no longer answers.
ignore = signal.SIG_IGN if os.environ.get("FAKE_STUCK") else None
signal.signal(signal.SIGINT, ignore or (lambda signum, frame: interrupts.append(signum)))
with open(work / "starts", "a") as starts:
    print(os.getpid(), file=starts)
(work / "lock").write_text(str(os.getpid()))  # the state lock, released on every exit below
(work / "pid").write_text(str(os.getpid()))
os.replace(work / "pid", work / "terraform-ready")  # whole, never half written
if os.environ.get("FAKE_PROMPT"):  # "Enter a value:": blocked reading stdin, nothing applied yet
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.stdin.readline()
    except KeyboardInterrupt:  # "Error: error asking for approval: interrupted"
        (work / "cancelled-at-prompt").touch()
        (work / "lock").unlink()
        sys.exit(1)
end, shutting_down = time.monotonic() + float(os.environ.get("FAKE_TERRAFORM_SECONDS", "30")), False
while time.monotonic() < end:
    time.sleep(0.02)
    if len(interrupts) > 1:  # Terraform's "Two interrupts received. Exiting immediately."
        (work / "forced").touch()
        sys.exit(1)  # the lock stays: force-unlock
    if interrupts and not shutting_down:  # "Gracefully shutting down": in-flight operations end
        end, shutting_down = time.monotonic() + float(os.environ.get("FAKE_SHUTDOWN_SECONDS", "0.5")), True
with open(work / ("graceful" if interrupts else "finished"), "a") as marker:
    print(os.getpid(), file=marker)
(work / "lock").unlink()
sys.exit(1 if interrupts else 0)
"""


def wait_for(path: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    for name, text in (("cdktf", FAKE_CLI), ("terraform", FAKE_TERRAFORM)):
        (tmp_path / name).write_text(text.format(python=sys.executable))
        (tmp_path / name).chmod(0o755)
    return tmp_path


def wrapper_environment(fakes: Path, env: dict[str, str]) -> dict[str, str]:
    """This environment without the settings and the switches the wrapper sets, pointed at the fakes."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HOMU_") and k not in ("CHECKPOINT_DISABLE", "DISABLE_VERSION_CHECK")
    }
    return {
        **base,
        CLI_PATH_VARIABLE: str(fakes / "cdktf"),
        "TERRAFORM_BINARY_NAME": str(fakes / "terraform"),
        **env,
    }


def stop_everything(fakes: Path, started: list[subprocess.Popen]) -> None:
    """A failed test leaves nothing running. The fake Terraform is in the fake CLI's process group."""
    for process in started:
        process.kill()
        process.wait()
    if (fakes / "cli.json").exists():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(json.loads((fakes / "cli.json").read_text())["pid"], signal.SIGKILL)


@pytest.fixture
def wrapper(fakes: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """``wrapper(*args, **env)`` starts the wrapper in its own session, so a test's signal reaches
    only the wrapper."""
    started: list[subprocess.Popen] = []

    def start(*args: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.cdktf", *args],
            cwd=ROOT,
            env=wrapper_environment(fakes, env),
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    stop_everything(fakes, started)


def finish(process: subprocess.Popen) -> tuple[int, list[str]]:
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr.splitlines()


FINISHING = (
    "interrupt: letting Terraform (pid {pid}) finish the stack it is applying, so what it creates is"
    " recorded and the lock released; no further stack starts (Ctrl-C again to cancel the apply)"
)
STOPPING_CLI = "interrupt: no Terraform running (nothing to protect); stopping the cdktf CLI"


def markers(fakes: Path, name: str) -> list[int]:
    path = fakes / name
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_signal_lets_the_running_apply_finish_and_starts_no_further_stack(fakes, wrapper, signum, code):
    """Terraform's own graceful stop would cancel the operations in flight; finishing the stack
    records everything it creates. The next stack's Terraform is stopped before it changes anything."""
    process = wrapper(
        "deploy", "homu-data", "homu-fargate", FAKE_RUN_TERRAFORM="2", FAKE_TERRAFORM_SECONDS="2"
    )
    wait_for(fakes / "terraform-ready")
    applying = int((fakes / "terraform-ready").read_text())
    process.send_signal(signum)
    exit_code, stderr = finish(process)
    assert exit_code == code
    notices = [line for line in stderr if line.startswith("interrupt:")]
    assert notices[0] == FINISHING.format(pid=applying)
    assert markers(fakes, "finished") == [applying]  # the apply ran to its end, uninterrupted
    assert applying not in markers(fakes, "graceful") and not (fakes / "forced").exists()
    # The next stack's Terraform never started: the CLI's attempt met the closed gate.
    assert markers(fakes, "starts") == [applying]
    assert all(line == STOPPING_CLI for line in notices[1:]), notices


def test_a_terraform_that_only_plans_is_stopped_at_once(fakes, wrapper):
    process = wrapper("diff", "homu-data", FAKE_RUN_TERRAFORM="1", FAKE_TERRAFORM_ARGS="plan")
    wait_for(fakes / "terraform-ready")
    planning = int((fakes / "terraform-ready").read_text())
    process.send_signal(signal.SIGINT)
    code, stderr = finish(process)  # the plan would run for 30 s: this would time out
    assert code == 130
    assert stderr[0] == (
        f"interrupt: asked Terraform (pid {planning}) to stop; it is not applying, so nothing is lost"
    )
    assert markers(fakes, "graceful") == [planning]


def test_a_second_ctrl_c_cancels_the_apply(fakes, wrapper):
    process = wrapper("deploy", "homu-fargate", FAKE_RUN_TERRAFORM="1")
    wait_for(fakes / "terraform-ready")
    applying = int((fakes / "terraform-ready").read_text())
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    code, stderr = finish(process)  # the apply would run for 30 s: this would time out
    assert code == 130
    assert stderr[1].startswith(f"interrupt: asked Terraform (pid {applying}) to stop now: it cancels")
    assert markers(fakes, "graceful") == [applying]  # Terraform's own graceful stop, not a kill


def test_a_third_ctrl_c_kills_the_cli(fakes, wrapper):
    process = wrapper("deploy", "homu-fargate", FAKE_RUN_TERRAFORM="1", FAKE_STUCK="1")
    wait_for(fakes / "terraform-ready")
    for _ in range(3):
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    code, stderr = finish(process)
    assert code == 130
    assert stderr[2] == (
        "interrupt: killing the cdktf CLI; release a lock left behind with `terraform force-unlock ID`"
    )
    assert not (fakes / "cli-aborted").exists()  # killed: it had no say


def test_without_terraform_the_cli_itself_is_stopped(fakes, wrapper):
    process = wrapper("synth", FAKE_CLI_SECONDS="30")
    wait_for(fakes / "cli.json")
    process.send_signal(signal.SIGINT)
    assert finish(process) == (130, [STOPPING_CLI])
    assert (fakes / "cli-aborted").exists()


def test_arguments_and_exit_code_pass_through(fakes, wrapper):
    args = ["deploy", "homu-data", "homu-fargate", "--auto-approve"]
    process = wrapper(*args, FAKE_CLI_EXIT="3")
    assert finish(process) == (3, [])
    cli = json.loads((fakes / "cli.json").read_text())
    assert cli["args"] == args
    assert cli["checkpoint"] == "1" and cli["version_check"] == "1"
    # The app's jsii preload (modules/__init__.py) plus the heap size the CLI would set itself: with a
    # NODE_OPTIONS that lacks one, the CLI opens every command with a warning about it.
    options = cli["node_options"].split()
    assert "--max-old-space-size=4096" in options and "--require" in options
    assert cli["sid"] == cli["pid"]  # it leads its own session: the terminal's Ctrl-C skips it


def test_bad_settings_stop_before_the_cli_starts(fakes, wrapper):
    code, stderr = finish(wrapper("deploy", "homu-fargate", HOMU_FARGATE_CPU="3"))
    assert code == 2
    lines = [line for line in stderr if "fargate_cpu" in line]
    assert len(lines) == 1 and lines[0].startswith("error: setting fargate_cpu (HOMU_FARGATE_CPU): got '3'")
    assert stderr[-1] == "the cdktf CLI was not started; fix the settings above and run again"
    assert not (fakes / "cli.json").exists()


@pytest.mark.parametrize("args", [["--version"], ["deploy", "--help"], ["get"]])
def test_commands_that_do_not_synthesize_skip_the_settings(fakes, wrapper, args):
    assert finish(wrapper(*args, HOMU_FARGATE_CPU="3")) == (0, [])
    assert json.loads((fakes / "cli.json").read_text())["args"] == args


def test_a_missing_cli_is_one_error_line(tmp_path, wrapper):
    code, stderr = finish(wrapper("--version", **{CLI_PATH_VARIABLE: str(tmp_path / "absent")}))
    assert code == 127
    assert stderr == [
        f"error: cannot start the cdktf CLI {tmp_path / 'absent'} (No such file or directory); run `npm ci`"
    ]


# --- a real terminal: hang-ups, a CI runner's signals, the approval prompt ---------------------------


@pytest.fixture
def terminal(fakes: Path) -> Iterator[Callable[..., tuple[subprocess.Popen, int]]]:
    """``terminal(*args, **env)`` starts the wrapper as a terminal runs it: a pseudo-terminal is its
    stdin, stdout, stderr and controlling terminal, so closing the other end (the returned fd) hangs
    it up. Whatever a failed test leaves running is killed."""
    started: list[subprocess.Popen] = []

    def controlling_terminal() -> None:  # after setsid (start_new_session)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def start(*args: str, **env: str) -> tuple[subprocess.Popen, int]:
        master, slave = os.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.cdktf", *args],
            cwd=ROOT,
            env=wrapper_environment(fakes, env),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=controlling_terminal,  # noqa: PLW1509 - nothing here is threaded yet
        )
        os.close(slave)
        started.append(process)
        return process, master

    yield start
    stop_everything(fakes, started)


def read_until(master: int, done: Callable[[bytes], bool], seconds: float = 20) -> bytes:
    """What the terminal shows until ``done(shown)``; read all along, as a terminal does."""
    shown, deadline = b"", time.monotonic() + seconds
    while not done(shown):
        assert time.monotonic() < deadline, shown[-500:]
        if select.select([master], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):
                shown += os.read(master, 65536)
    return shown


def test_the_fake_cli_dies_on_a_terminal_that_hung_up(fakes):
    """What the wrapper prevents: a CLI writing to the user's terminal dies mid-apply when it hangs up."""
    master, slave = os.openpty()
    cli = subprocess.Popen(
        [str(fakes / "cdktf"), "deploy"],
        env={
            **os.environ,
            "TERRAFORM_BINARY_NAME": str(fakes / "terraform"),
            "FAKE_RUN_TERRAFORM": "1",
            "FAKE_TERRAFORM_SECONDS": "5",
            "FAKE_CLI_CHATTER": "1",
        },
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    read_until(master, lambda _: (fakes / "terraform-ready").exists())
    os.close(master)
    assert cli.wait(timeout=10) == 1
    assert (fakes / "cli-died-writing").exists() and not (fakes / "finished").exists()


def test_a_hang_up_during_an_apply_lets_it_finish_and_record_everything(fakes, terminal):
    process, master = terminal(
        "deploy",
        "homu-data",
        FAKE_RUN_TERRAFORM="1",
        FAKE_TERRAFORM_SECONDS="2",
        FAKE_CLI_CHATTER="1",
    )
    # Hung up once the CLI is seen redrawing its progress, as Node's interface does during an apply.
    read_until(master, lambda shown: (fakes / "terraform-ready").exists() and b"Still creating..." in shown)
    applying = int((fakes / "terraform-ready").read_text())
    os.close(master)  # the terminal goes away: SIGHUP to the wrapper, EIO on every write to it
    assert process.wait(timeout=30) == 129
    assert markers(fakes, "finished") == [applying] and not (fakes / "graceful").exists()
    assert not (fakes / "cli-died-writing").exists() and not (fakes / "cli-aborted").exists()
    assert not (fakes / "lock").exists()


def test_a_runners_sigint_then_sigterm_is_one_request_and_the_apply_finishes(fakes, wrapper):
    """GitHub's runner cancels a job with SIGINT, then SIGTERM 7.5 s later: the second is the same
    request, not the "again" that would cancel the apply (the gap's length does not matter)."""
    process = wrapper("deploy", "homu-data", FAKE_RUN_TERRAFORM="1", FAKE_TERRAFORM_SECONDS="2.5")
    wait_for(fakes / "terraform-ready")
    applying = int((fakes / "terraform-ready").read_text())
    process.send_signal(signal.SIGINT)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    code, stderr = finish(process)
    assert code == 130
    assert stderr[:2] == [FINISHING.format(pid=applying), "interrupt: SIGTERM too: the same request to stop"]
    assert markers(fakes, "finished") == [applying] and not (fakes / "forced").exists()
    assert not (fakes / "lock").exists()


def test_a_signal_at_the_approval_prompt_ends_the_command_and_releases_the_lock(fakes, terminal):
    """An apply waiting for "yes" has applied nothing: it is stopped (which releases its lock), not
    waited for. Here through a real terminal, as a user at the prompt presses Ctrl-C."""
    process, master = terminal("deploy", "homu-data", FAKE_RUN_TERRAFORM="1", FAKE_PROMPT="1")
    read_until(master, lambda _: (fakes / "terraform-ready").exists())
    prompting = int((fakes / "terraform-ready").read_text())
    read_until(master, lambda _: at_prompt(prompting))
    os.write(master, b"\x03")  # Ctrl-C: the terminal is raw, so the wrapper reads it as a key
    shown = read_until(master, lambda _: process.poll() is not None)
    os.close(master)
    assert process.returncode == 130
    stopped = f"interrupt: asked Terraform (pid {prompting}) to stop; it is not applying, so nothing is lost"
    # Said when it happens and again once the CLI exits: its interface's redraws erase lines in its frame.
    assert shown.count(stopped.encode()) == 2, shown
    assert (fakes / "cancelled-at-prompt").exists() and not (fakes / "lock").exists()
    assert not (fakes / "finished").exists()
