"""How a rehearsal step fails."""

from __future__ import annotations


class RehearsalError(Exception):
    """A failed step: which stack, which step, what went wrong and Terraform's own output."""

    def __init__(self, stack: str, step: str, message: str, output: str = "") -> None:
        self.stack, self.step, self.message, self.output = stack, step, message, output
        text = f"{stack}: {step} failed: {message}"
        if output.strip():
            text += "\n" + output.rstrip()
        super().__init__(text)


class CheckFailed(Exception):
    """A check found the emulator unlike the configuration; the rehearsal names the stack and step."""

    def __init__(self, message: str, output: str = "") -> None:
        self.message, self.output = message, output
        super().__init__(message)
