"""The project's entry point for the cdktf CLI: ``python -m tools.cdktf <cdktf arguments...>``.

    python -m tools.cdktf deploy homu-data homu-fargate

Run it from the repository root, like ``npx cdktf``. Three things differ from running the CLI itself:

* The settings are checked before the CLI starts. Bad settings print each ``error:`` line once and
  exit 2. Under the CLI, the app's lines are echoed twice and the exit code becomes 1.
* ``destroy homu-data`` is refused while a compute the command does not destroy too still holds
  resources in its state (``tools/teardown.py``): the CLI's flag ``--ignore-missing-stack-dependencies``
  would otherwise delete the database under a running compute.
* Ctrl-C, SIGTERM and a hang-up never reach the CLI. Left alone, the CLI aborts within 0.2 s and
  closes the pseudo-terminal Terraform runs in. Terraform then dies before it records what it
  created or releases the state lock. Instead, the first signal lets a Terraform that is applying
  (``apply``, ``destroy``) finish that stack, so everything it creates is in the state and the lock is
  released, and stops everything else: a Terraform that only initializes or plans, or that waits at
  its approval prompt (nothing is applied yet; it holds the lock), gets SIGINT, and once no
  Terraform runs, the CLI gets SIGINT before it starts another stack. Even Terraform's own graceful
  stop is not enough for an apply: it cancels the operations in flight, and a resource whose
  creation is cut off can exist without being in the state (measured: an IAM instance profile, which
  the next apply then fails to create again). The same signal again asks Terraform to stop anyway
  (that graceful stop); a third kills the CLI. Different signals in a row are one request: a CI
  runner that cancels a job sends SIGINT and, 7.5 s later, SIGTERM; a terminal closed after Ctrl-C
  sends SIGHUP.
* The CLI's terminal is the wrapper's (``tools/relay.py``): its output reaches the user through the
  wrapper, so a hang-up of the user's terminal cannot kill it with ``write EIO`` mid-apply.

Exit code: the CLI's. When interrupted, 128 + the first signal's number (130 for Ctrl-C, 143 for
SIGTERM), which is how a shell reports a process killed by that signal. 127 if the CLI is missing.

POSIX only. Terraform processes are found through /proc, so on Linux only. On other systems, no
Terraform is ever found, so every signal goes to the CLI's process group: the CLI's own abort, as
with ``npx cdktf``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from modules.names import DATA_STACK
from modules.settings import SettingsError, load_settings
from tools.relay import Relay, forget_user_output
from tools.teardown import TeardownRefused, check_data_tier_destroy, destroyed_stacks

ROOT = Path(__file__).resolve().parent.parent
# Tests point this at a fake CLI. It has no HOMU_ prefix because the settings reject unknown HOMU_
# variables.
CLI_PATH_VARIABLE = "CDKTF_CLI_PATH"
# The verbs (and their aliases) that run main.py. Anything else (get, init, provider, --version)
# works with any settings.
SYNTH_VERBS = frozenset(
    {"synth", "synthesize", "diff", "plan", "deploy", "apply", "destroy", "output", "outputs", "list", "watch"}
)  # fmt: skip
HELP_FLAGS = frozenset({"--help", "-h", "--version"})
# SIGHUP too: the CLI runs in its own session, so a closed terminal would no longer stop it.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PROC = Path("/proc")
POLL_SECONDS = 0.1
# The Terraform commands that create and delete resources: left to finish on the first signal.
APPLYING = frozenset({"apply", "destroy"})
# read(2)'s number, to see a Terraform blocked reading its stdin: its approval prompt.
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(platform.machine())


def synthesizes(args: list[str]) -> bool:
    verb = next((arg for arg in args if not arg.startswith("-")), None)
    return verb in SYNTH_VERBS and not HELP_FLAGS.intersection(args)


def terraform_processes(root: int) -> list[int]:
    """The Terraform processes among ``root``'s descendants. Always empty without /proc."""
    # cdktf runs the binary named by TERRAFORM_BINARY_NAME. The kernel keeps 15 characters of a name.
    name = Path(os.environ.get("TERRAFORM_BINARY_NAME") or "terraform").name[:15]
    children: dict[int, list[int]] = {}
    for entry in PROC.glob("[0-9]*"):
        with contextlib.suppress(OSError):  # the process exited while we looked
            status = (entry / "status").read_text().splitlines()
            parent = int(next(line.split()[1] for line in status if line.startswith("PPid:")))
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        for pid in children.get(queue.pop(), []):
            queue.append(pid)
            with contextlib.suppress(OSError):
                if (PROC / str(pid) / "comm").read_text().strip() == name:
                    found.append(pid)
    return sorted(found)


def applying(pid: int) -> bool:
    """Whether Terraform process ``pid`` runs a command that creates or deletes resources."""
    with contextlib.suppress(OSError):
        arguments = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")[1:]
        return any(argument.decode(errors="replace") in APPLYING for argument in arguments)
    return False


def at_prompt(pid: int) -> bool:
    """Whether Terraform process ``pid`` waits for an answer on its stdin (``Enter a value:``). Nothing
    is applied before the answer, so stopping it there loses nothing. Always False without /proc."""
    if READ_SYSCALL is None:
        return False
    for task in (PROC / str(pid) / "task").glob("*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            number, first_argument = (task / "syscall").read_text().split()[:2]
            if int(number) == READ_SYSCALL and int(first_argument, 16) == 0:
                return True
    return False


# The Terraform the CLI starts goes through this gate: once the command is interrupted, the gate
# refuses, so no Terraform of a later stack ever starts (the CLI would start one as soon as the
# finishing apply exits, before any look at the processes could stop it). Not HOMU_ variables: the
# settings reject unknown ones.
GATE_SCRIPT = """#!/bin/sh
# python -m tools.cdktf: no Terraform starts once the command was interrupted.
if [ -e "$CDKTF_WRAPPER_STOPPED" ]; then
  echo "interrupt: not starting terraform $1 in ${PWD##*/}: the command was interrupted" >&2
  exit 1
fi
exec "$CDKTF_WRAPPER_TERRAFORM" "$@"
"""


class TerraformGate:
    """A directory with the gate script, and the file whose existence closes it."""

    def __init__(self, env: dict[str, str]) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="cdktf-gate-")
        directory = Path(self._directory.name)
        script = directory / "terraform-gate"  # not "terraform": no look at the processes takes it for one
        script.write_text(GATE_SCRIPT)
        script.chmod(0o755)
        self.stopped = directory / "stopped"
        binary = env.get("TERRAFORM_BINARY_NAME") or "terraform"
        env["CDKTF_WRAPPER_TERRAFORM"] = shutil.which(binary) or binary
        env["CDKTF_WRAPPER_STOPPED"] = str(self.stopped)
        env["TERRAFORM_BINARY_NAME"] = str(script)

    def close_gate(self) -> None:
        self.stopped.touch()

    def remove(self) -> None:
        self._directory.cleanup()


# Every notice printed, so it can be shown again once the CLI's interface stops redrawing (its redraw
# erases lines written into its frame).
NOTICES: list[str] = []


def notice(line: str) -> None:
    NOTICES.append(line)
    say(line)


def say(line: str) -> None:
    # After a hang-up the terminal is gone. Losing the line must not stop the wrapper from waiting.
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:
        forget_user_output()


def pids_text(pids: list[int]) -> str:
    return ", ".join(map(str, pids))


class Interruption:
    """What the signals received so far ask for, applied to the CLI ``cli`` and its Terraform."""

    def __init__(self, cli: int, gate: TerraformGate) -> None:
        self.cli, self.gate, self.count = cli, gate, 0
        self.finishing: set[int] = set()  # applies left to finish (first signal)
        self.asked: set[int] = set()  # Terraform processes sent SIGINT
        self.cli_stopped = False
        self.idle_scans = 0  # consecutive looks that found no Terraform

    def escalate(self, pids: list[int]) -> None:
        """The next signal, given the Terraform processes running now: finish the applies and stop the
        rest, then cancel them, then kill."""
        self.count += 1
        self.gate.close_gate()  # from now on no Terraform starts
        if self.count >= 3:
            notice(
                "interrupt: killing the cdktf CLI; release a lock left behind with `terraform force-unlock ID`"
            )
            self._signal_cli(signal.SIGKILL)
            return
        if self.count == 2:
            self.finishing.clear()
            self._ask(pids, force=True)
            return
        self.finishing.update(pid for pid in pids if applying(pid) and not at_prompt(pid))
        if self.finishing:
            notice(
                f"interrupt: letting Terraform (pid {pids_text(sorted(self.finishing))}) finish the stack it is"
                " applying, so what it creates is recorded and the lock released; no further stack starts"
                " (Ctrl-C again to cancel the apply)"
            )

    def follow(self, pids: list[int]) -> None:
        """Each poll after a signal, given the Terraform processes running now: stop every one that is
        not a finishing apply, and the CLI once none runs."""
        if self.count >= 3:
            return
        # An apply that reached its approval prompt since has nothing to finish: it would wait forever.
        self.finishing.difference_update([pid for pid in self.finishing if at_prompt(pid)])
        self._ask([pid for pid in pids if pid not in self.finishing and pid not in self.asked], force=False)
        self.idle_scans = 0 if pids else self.idle_scans + 1
        # Two looks a poll apart: the CLI may be starting the next Terraform between stacks, and its
        # abort would hang that one up in its pseudo-terminal.
        if self.idle_scans >= 2 and not self.cli_stopped:
            self.cli_stopped = True
            notice("interrupt: no Terraform running (nothing to protect); stopping the cdktf CLI")
            self._signal_cli(signal.SIGINT)

    def _ask(self, pids: list[int], *, force: bool) -> None:
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        self.asked.update(pids)
        if force:
            notice(
                f"interrupt: asked Terraform (pid {pids_text(pids)}) to stop now: it cancels what is in flight,"
                " so a resource cut off mid-creation may exist without being in the state (Ctrl-C again to"
                " kill the cdktf CLI)"
            )
        else:
            notice(
                f"interrupt: asked Terraform (pid {pids_text(pids)}) to stop; it is not applying, so nothing is lost"
            )

    def _signal_cli(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.cli, signum)  # the CLI leads its own session, so its pid is its group id


def run(args: list[str], received: list[int]) -> int:
    cli_path = os.environ.get(CLI_PATH_VARIABLE) or str(ROOT / "node_modules" / ".bin" / "cdktf")
    # Skip HashiCorp's and npm's version checks: cdktf 0.21.0 is the last release, and offline (or
    # behind the emulator's loopback proxy) each check only waits and prints an npm error.
    env = {"CHECKPOINT_DISABLE": "1", "DISABLE_VERSION_CHECK": "1", **os.environ}
    # Importing modules/ adds the jsii preload to NODE_OPTIONS; a NODE_OPTIONS without a heap size makes
    # the CLI warn on every command, so it gets the size the CLI itself sets when there is none.
    if "--max-old-space-size" not in env.get("NODE_OPTIONS", ""):
        env["NODE_OPTIONS"] = f"{env.get('NODE_OPTIONS', '')} --max-old-space-size=4096".strip()
    gate = TerraformGate(env)
    relay = Relay(on_interrupt=lambda: received.append(signal.SIGINT))
    try:
        try:
            # A new session, so the terminal's Ctrl-C reaches only this wrapper.
            cli = subprocess.Popen([cli_path, *args], env=env, start_new_session=True, **relay.child_io)
        except OSError as error:
            print(
                f"error: cannot start the cdktf CLI {cli_path} ({error.strerror}); run `npm ci`",
                file=sys.stderr,
            )
            return 127
        relay.started()
        supervise(cli, relay, gate, received)
        relay.drain()
        if relay.terminal:
            for line in NOTICES:  # the CLI has stopped drawing: now they stay on the screen
                say(line)
    finally:
        relay.close()
        gate.remove()
    if received:
        return 128 + received[0]
    return cli.returncode if cli.returncode >= 0 else 128 - cli.returncode


def supervise(cli: subprocess.Popen, relay: Relay, gate: TerraformGate, received: list[int]) -> None:
    """Relay until the CLI exits, acting on the signals as they come. The signal handler only
    records; this loop does the work, so two signals never interleave."""
    interruption, handled, kinds = Interruption(cli.pid, gate), 0, set()
    while cli.poll() is None:
        relay.pump(POLL_SECONDS)
        if not received:
            continue
        pids = terraform_processes(cli.pid)  # one look a poll, whatever the signals ask
        while handled < len(received):
            signum = received[handled]
            handled += 1
            if kinds and signum not in kinds:
                kinds.add(signum)
                notice(f"interrupt: {signal.Signals(signum).name} too: the same request to stop")
                continue
            kinds.add(signum)
            interruption.escalate(pids)
        interruption.follow(pids)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    received: list[int] = []
    for signum in SIGNALS:
        signal.signal(signum, lambda number, _frame: received.append(number))
    if synthesizes(args):
        try:
            load_settings()
        except SettingsError as error:
            for line in error.lines:
                print(f"error: {line}", file=sys.stderr)
            print("the cdktf CLI was not started; fix the settings above and run again", file=sys.stderr)
            return 2
    refused = data_tier_in_use(args) if DATA_STACK in destroyed_stacks(args) else 0
    # Interrupted while checking (Ctrl-C also stops the guard's terraform): nothing started or destroyed.
    if received:
        return 128 + received[0]
    return refused or run(args, received)


def data_tier_in_use(args: list[str]) -> int:
    """0 when the destroy of the data tier may start; else prints why not and returns 1 (2 when the
    app could not be synthesized to find the computes' states)."""
    synthesis = subprocess.run(
        [sys.executable, str(ROOT / "main.py")], capture_output=True, text=True, check=False
    )
    if synthesis.returncode != 0:
        sys.stderr.write(synthesis.stderr)
        print("the cdktf CLI was not started", file=sys.stderr)
        return 2
    try:
        check_data_tier_destroy(args, Path("cdktf.out") / "stacks")
    except TeardownRefused as refusal:
        for line in refusal.lines:
            print(f"error: {line}", file=sys.stderr)
        print("the cdktf CLI was not started; nothing was destroyed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
