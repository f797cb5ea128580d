"""The project's entry point for the cdktf CLI: ``python -m tools.cdktf <cdktf arguments...>``.

    python -m tools.cdktf deploy homu-data homu-fargate

Run it from the repository root, like ``npx cdktf``. Two things differ from running the CLI itself:

* The settings are checked before the CLI starts. Bad settings print each ``error:`` line once and
  exit 2. Under the CLI, the app's lines are echoed twice and the exit code becomes 1.
* Ctrl-C, SIGTERM and a hang-up never reach the CLI. Left alone, the CLI aborts within 0.2 s and
  closes the pseudo-terminal Terraform runs in. Terraform then dies before it records what it
  created or releases the state lock. Instead, the wrapper sends SIGINT to the Terraform processes,
  which stop gracefully: in-flight operations end, the state is written and the lock is released.
  The wrapper then waits for the CLI. A second signal sends SIGINT again (Terraform's own "exit
  immediately"), and a third kills the CLI. If no Terraform is running (during synthesis, say),
  there is nothing to protect, so the CLI's process group gets the SIGINT.

Exit code: the CLI's. When interrupted, 128 + the first signal's number (130 for Ctrl-C, 143 for
SIGTERM), which is how a shell reports a process killed by that signal. 127 if the CLI is missing.

POSIX only. Terraform processes are found through /proc, so on Linux only. On other systems, no
Terraform is ever found, so every signal goes to the CLI's process group: the CLI's own abort, as
with ``npx cdktf``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modules.settings import SettingsError, load_settings

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


def notice(line: str) -> None:
    # After a hang-up the terminal is gone. Losing the line must not stop the wrapper from waiting.
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def ask_to_stop(pids: list[int], asked: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    asked.update(pids)


def signal_group(cli: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(cli, signum)  # the CLI leads its own session, so its pid is its group id


def graceful_notice(pids: list[int]) -> str:
    return (
        f"interrupt: asked Terraform (pid {', '.join(map(str, pids))}) to stop gracefully; waiting for it"
        " to record its state and release the lock (Ctrl-C again to force)"
    )


def escalate(cli: int, count: int, asked: set[int]) -> None:
    """What the ``count``-th signal does."""
    if count >= 3:
        notice(
            "interrupt: killing the cdktf CLI; release a lock left behind with `terraform force-unlock ID`"
        )
        signal_group(cli, signal.SIGKILL)
        return
    pids = terraform_processes(cli)
    if not pids:
        notice("interrupt: no Terraform running (nothing to protect); stopping the cdktf CLI")
        signal_group(cli, signal.SIGINT)
        return
    ask_to_stop(pids, asked)
    if count == 1:
        notice(graceful_notice(pids))
    else:
        notice(
            f"interrupt: asked Terraform (pid {', '.join(map(str, pids))}) again: it exits at once and"
            " may not record what it created (Ctrl-C again to kill the cdktf CLI)"
        )


def run(args: list[str], received: list[int]) -> int:
    cli_path = os.environ.get(CLI_PATH_VARIABLE) or str(ROOT / "node_modules" / ".bin" / "cdktf")
    # Skip HashiCorp's version check. It only slows the CLI down, and offline it waits for a timeout.
    env = {"CHECKPOINT_DISABLE": "1", **os.environ}
    try:
        # A new session, so the terminal's Ctrl-C reaches only this wrapper.
        cli = subprocess.Popen([cli_path, *args], env=env, start_new_session=True)
    except OSError as error:
        print(
            f"error: cannot start the cdktf CLI {cli_path} ({error.strerror}); run `npm ci`", file=sys.stderr
        )
        return 127
    # The signal handler only records. This loop does the work, so two signals never interleave.
    handled, asked = 0, set()
    while cli.poll() is None:
        time.sleep(POLL_SECONDS)
        while handled < len(received):
            handled += 1
            escalate(cli.pid, handled, asked)
        if received:
            # The CLI may start a queued stack's Terraform after an interrupted one fails. Ask it to
            # stop too.
            late = [pid for pid in terraform_processes(cli.pid) if pid not in asked]
            if late:
                ask_to_stop(late, asked)
                notice(graceful_notice(late))
    if received:
        return 128 + received[0]
    return cli.returncode if cli.returncode >= 0 else 128 - cli.returncode


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
    if received:  # interrupted while the settings were checked: nothing started, nothing to stop
        return 128 + received[0]
    return run(args, received)


if __name__ == "__main__":
    sys.exit(main())
