"""What adopt, drift and the doctor do around their work (tools/account_tool.py): one line and an exit
code for each way it can end badly, never a traceback."""

from __future__ import annotations

import signal
import sys

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from modules.settings import SettingsError
from tools import account_tool
from tools.interrupt import terminate


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def run(body, **options):
    return account_tool.run(
        body, tool="drift", make_target="drift", interrupted="nothing was written", **options
    )


def raising(error: BaseException):
    def body() -> int:
        raise error

    return body


def test_the_body_runs_with_sigterm_and_sighup_unwinding_like_ctrl_c():
    seen = {}

    def body() -> int:
        seen.update({s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)})
        return 2

    assert run(body) == 2
    assert seen == {signal.SIGTERM: terminate, signal.SIGHUP: terminate}


def test_without_boto3_one_line_names_the_make_target(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "botocore.exceptions", None)
    assert run(lambda: 0) == 1
    assert capsys.readouterr().err == (
        "error: drift needs boto3: run `make drift` or `python3 -m tools.bootstrap dev` first\n"
    )


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (NoCredentialsError(), "error: AWS: Unable to locate credentials\n"),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "not you"}}, "GetObject"),
            "error: AWS: An error occurred (AccessDenied) when calling the GetObject operation: not you\n",
        ),
    ],
)
def test_an_aws_error_is_one_line(error, line, capsys):
    assert run(raising(error), failed=3) == 3
    assert capsys.readouterr().err == line


def test_bad_settings_are_one_line_each_with_their_own_exit_code(capsys):
    error = SettingsError(["HOMU_REGION: 'mars-1' is not a region", "HOMU_X: not a setting"])
    assert run(raising(error), bad_settings=1) == 1
    assert (
        capsys.readouterr().err
        == "error: HOMU_REGION: 'mars-1' is not a region\nerror: HOMU_X: not a setting\n"
    )


def test_an_interruption_says_what_was_left_and_exits_130(capsys):
    assert run(raising(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == "interrupted: nothing was written\n"
