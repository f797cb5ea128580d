"""The cdktf CLI's terminal, owned by ``python -m tools.cdktf`` and relayed to the user's.

Left with the user's terminal as its output, the CLI dies on ``write EIO`` once that terminal hangs
up, and takes the Terraform it runs (in a pseudo-terminal of its own) with it, mid-apply. Here the
CLI writes into a pseudo-terminal (when the user's stdout is a terminal, so it still draws its
interface and asks for approval) or into pipes (otherwise, as in CI), and the wrapper copies what it
writes to the user. When the user's side fails (a hang-up, a closed pipe), the wrapper stops copying
and goes on reading, so the CLI never notices.

Keys go the other way when stdin is a terminal: the user's terminal is put in raw mode (restored on
exit) and every byte is passed on, except Ctrl-C, which is the wrapper's interrupt as in cooked mode.
POSIX only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import sys
import termios
import tty
from collections.abc import Callable

CTRL_C = b"\x03"
CHUNK = 65536


def forget_user_output() -> None:
    """The user's stdout and stderr are gone (a hang-up, a closed pipe): point both at /dev/null, so
    nothing written later (Python's own flush at exit included, which would make the exit code 120)
    fails."""
    null = os.open(os.devnull, os.O_WRONLY)
    for fd in (sys.stdout.fileno(), sys.stderr.fileno()):
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


class Relay:
    """Between the CLI and the user: ``child_io`` for Popen, then ``pump`` until the CLI exits, then
    ``close``. ``on_interrupt`` is called for each Ctrl-C typed while the terminal is raw."""

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self.on_interrupt = on_interrupt
        self.user_gone = False  # the user's output failed: read on, write no more
        self.terminal = os.isatty(sys.stdout.fileno())  # the CLI draws an interface that it redraws
        self._saved_mode: list | None = None
        self._keys: int | None = None  # the user's stdin, while its keys are passed on
        if self.terminal:
            master, slave = os.openpty()
            self._copy_size(slave)
            self._sources = {master: sys.stdout.fileno()}
            self._input = master
            keys = os.isatty(sys.stdin.fileno())
            self.child_io = {"stdin": slave if keys else None, "stdout": slave, "stderr": slave}
            self._child_ends = [slave]
            if keys:
                self._keys = sys.stdin.fileno()
        else:
            out_read, out_write = os.pipe()
            err_read, err_write = os.pipe()
            self._sources = {out_read: sys.stdout.fileno(), err_read: sys.stderr.fileno()}
            self._input = None
            self.child_io = {"stdout": out_write, "stderr": err_write}
            self._child_ends = [out_write, err_write]

    def started(self) -> None:
        """The CLI runs: close our copies of its ends (so its exit ends our reads), take the keys."""
        for fd in self._child_ends:
            os.close(fd)
        self._child_ends = []
        if self._keys is not None:
            with contextlib.suppress(termios.error):
                self._saved_mode = termios.tcgetattr(self._keys)
                tty.setraw(self._keys)
                # Keep the terminal's output processing, so the wrapper's own lines start at column 0.
                mode = termios.tcgetattr(self._keys)
                mode[1] |= termios.OPOST | termios.ONLCR
                termios.tcsetattr(self._keys, termios.TCSANOW, mode)
            signal.signal(signal.SIGWINCH, lambda *_: self._copy_size(self._input))

    def pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for output or keys, and pass on what came."""
        readable = [*self._sources, *([self._keys] if self._keys is not None else [])]
        if not readable:
            select.select([], [], [], timeout)
            return
        try:
            ready, _, _ = select.select(readable, [], [], timeout)
        except InterruptedError:
            return
        for fd in ready:
            if fd == self._keys:
                self._pass_keys()
            else:
                self._pass_output(fd)

    def drain(self) -> None:
        """After the CLI exited: what it wrote last, until its ends are closed."""
        while self._sources:
            ready, _, _ = select.select(list(self._sources), [], [], 1.0)
            if not ready:
                break
            for fd in ready:
                self._pass_output(fd)

    def close(self) -> None:
        if self._saved_mode is not None and self._keys is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._keys, termios.TCSADRAIN, self._saved_mode)
            self._saved_mode = None
        # The CLI's ends too when it never started (Popen failed).
        for fd in [*self._sources, *([self._input] if self._input is not None else []), *self._child_ends]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._sources.clear()
        self._child_ends = []

    def _pass_output(self, fd: int) -> None:
        try:
            data = os.read(fd, CHUNK)
        except OSError:  # EIO: the pseudo-terminal's last user closed it
            data = b""
        if not data:
            del self._sources[fd]
            if fd != self._input:
                os.close(fd)
            return
        if self.user_gone:
            return
        try:
            _write_all(self._sources[fd], data)
        except OSError:  # the user's terminal hung up or the pipe's reader left: read on regardless
            self.user_gone = True
            forget_user_output()

    def _pass_keys(self) -> None:
        assert self._keys is not None and self._input is not None
        try:
            data = os.read(self._keys, CHUNK)
        except OSError:
            data = b""
        if not data:  # the user's terminal is gone
            self._keys = None
            return
        for _ in range(data.count(CTRL_C)):
            self.on_interrupt()
        data = data.replace(CTRL_C, b"")
        with contextlib.suppress(OSError):
            _write_all(self._input, data)

    @staticmethod
    def _copy_size(target: int | None) -> None:
        if target is None:
            return
        with contextlib.suppress(OSError):
            size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(target, termios.TIOCSWINSZ, size)
