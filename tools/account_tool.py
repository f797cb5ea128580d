"""What every tool that asks the account (adopt, drift, the doctor) does around its work, so each says
the same thing the same way: a runner's SIGTERM and a closed terminal's SIGHUP unwind like Ctrl-C
(Terraform stopped, temporary directories removed); without boto3, an AWS error, bad settings or an
interruption, one line and an exit code, never a traceback."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from modules.settings import SettingsError
from tools.interrupt import terminate

INTERRUPTED = 130


def run(
    body: Callable[[], int],
    *,
    tool: str,
    make_target: str,
    interrupted: str,
    failed: int = 1,
    bad_settings: int = 2,
) -> int:
    """``body()``'s exit code; ``failed`` when boto3 is missing or AWS answers an error,
    ``bad_settings`` on a SettingsError, 130 on an interruption (``interrupted`` says what was left)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, terminate)
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ModuleNotFoundError:  # `make synth` sets up the runtime packages only
        print(
            f"error: {tool} needs boto3: run `make {make_target}` or `python3 -m tools.bootstrap dev` first",
            file=sys.stderr,
        )
        return failed
    try:
        return body()
    except (BotoCoreError, ClientError) as error:
        # No credentials, no network, or a call the credentials may not make.
        print(f"error: AWS: {error}", file=sys.stderr)
        return failed
    except SettingsError as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        return bad_settings
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return INTERRUPTED
