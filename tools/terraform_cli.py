"""``terraform -chdir=DIR ...`` as the tools that read (adopt, drift, teardown's checks) run it: output
captured, the exit code left to the caller."""

from __future__ import annotations

import subprocess
from pathlib import Path


def terraform(
    directory: Path, *args: str, timeout: int, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", f"-chdir={directory}", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
