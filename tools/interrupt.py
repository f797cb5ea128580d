"""Termination signals that unwind like Ctrl-C, so ``finally`` blocks and context managers clean up."""

from __future__ import annotations

from typing import Any


def terminate(signum: int, frame: Any) -> None:
    """A runner's SIGTERM or a closed terminal's SIGHUP unwinds like Ctrl-C: what the tool started is
    stopped and its temporary files and directories are removed."""
    raise KeyboardInterrupt(f"signal {signum}")
