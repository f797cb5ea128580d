"""Serve mode: the rehearsal's patched emulator, with the account prepared as the rehearsal prepares it,
left running for a user's own ``npx cdktf deploy`` or ``terraform`` until SIGTERM or Ctrl-C.

    python -m tools.rehearsal --serve [--config production] [--port N]

Prints ``endpoint: <url>`` and the ``export`` lines that send the stacks, Terraform and the provider to
the emulator and nowhere else; then each internal error of the emulator on stderr as it happens.
"""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from modules.settings import SETTINGS_FILE_VARIABLE, env_name
from tools.rehearsal.emulator import Emulator
from tools.rehearsal.guide import replay
from tools.rehearsal.settings import PRODUCTION_FILE, REHEARSAL_SETTINGS, prepare_account, rehearsal_settings
from tools.rehearsal.terraform import emulator_environment, terraform_cli_environment

# One line of what serve prints to be pasted into a shell; ``read_export`` reads it back.
EXPORT = re.compile(r"export ([A-Z][A-Z0-9_]*)=(.*)")


READY = "# serving until Ctrl-C or SIGTERM"


def read_export(line: str) -> tuple[str, str]:
    """``(name, value)`` of an ``export NAME=value`` line as ``serve`` prints it; ValueError otherwise."""
    match = EXPORT.fullmatch(line.rstrip("\n"))
    if match is None:
        raise ValueError(f"not an export line: {line!r}")
    (value,) = shlex.split(match[2])
    return match[1], value


# Of the rehearsal's Terraform environment, what suits its unattended runs but not a user at a shell:
# no prompts (an interactive apply could not be confirmed) and a garbage-collector tuning.
UNATTENDED = ("TF_INPUT", "GOGC")


def exports(config: str, endpoint: str, home: Path) -> dict[str, str]:
    """The variables that point a shell's ``cdktf``/``terraform`` at the emulator, in print order."""
    variables = {env_name("endpoint_url"): endpoint}
    variables.update({env_name(key): str(value) for key, value in REHEARSAL_SETTINGS.items()})
    if config == "production":
        # The hosted zone prepared for production is looked up by the production stacks only.
        variables[SETTINGS_FILE_VARIABLE] = str(PRODUCTION_FILE)
    cli = terraform_cli_environment(home)
    # From the CLI environment only the offline mirror's config (when this machine has the mirror) and
    # the switch that stops Terraform's update check from calling HashiCorp; the rest is the user's.
    offline = {name: cli[name] for name in ("TF_CLI_CONFIG_FILE", "CHECKPOINT_DISABLE") if name in cli}
    network = emulator_environment(offline)  # dummy credentials, no AWS config files, loopback proxy
    variables.update({name: value for name, value in network.items() if name not in UNATTENDED})
    variables["AWS_REGION"] = rehearsal_settings(config).region
    return variables


def unavailable(port: int) -> str:
    """Why this loopback port cannot be listened on ("" when it can). moto's server waits forever for a
    bind that failed, so a busy or forbidden port is refused before starting it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.strerror or str(error)
    return ""


def serve(config: str, port: int = 0, *, guide: bool = False) -> int:
    """Runs until SIGTERM or SIGINT, then stops the emulator and removes its directory; returns 0."""
    if port and (problem := unavailable(port)):
        print(f"error: cannot listen on 127.0.0.1:{port}: {problem}", file=sys.stderr)
        return 1
    received: list[int] = []
    # Only recorded: the loop below notices within a second, and setup and cleanup are never cut short.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, frame: received.append(number))
    # Holds the Terraform CLI config that the printed TF_CLI_CONFIG_FILE names, as long as the emulator runs.
    home = Path(tempfile.mkdtemp(prefix=f"homu-serve-{config}-"))
    try:
        with Emulator(rehearsal_settings(config).region, port=port) as emulator:
            prepared = prepare_account(emulator, rehearsal_settings(config, emulator.url))
            if guide:
                deployment = replay(emulator.client)
                prepared.append(
                    f"the guide's deployment ({len(deployment.resources)} resources, docs/adopting.md)"
                )
            print(f"endpoint: {emulator.url}")
            for name, value in exports(config, emulator.url, home).items():
                print(f"export {name}={shlex.quote(value)}")
            print(f"prepared: {'; '.join(prepared)}", file=sys.stderr)
            # The last stdout line, for scripts that wait until the emulator serves: a shell comment,
            # so pasting every stdout line into a shell still works.
            print(READY)
            sys.stdout.flush()  # a parent reading the pipe gets the lines now, not at exit
            reported = 0
            while not received:
                time.sleep(1)
                # Shown as they happen: the provider would otherwise retry a 500 for many minutes.
                for error in emulator.errors[reported:]:
                    print(f"emulator error: {error}", file=sys.stderr, flush=True)
                    reported += 1
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{signal.Signals(received[0]).name}: the emulator stopped, {home} removed", file=sys.stderr)
    return 0
