"""Set-up for the README's two commands, on whatever ``python3`` the user has (standard library only).

    python3 -m tools.bootstrap synth               # what `make synth` needs: the runtime packages
    python3 -m tools.bootstrap dev                 # + the development packages (scan, linters, emulator)
    python3 -m tools.bootstrap test [--no-install] # + the servers and validators the tests run

Nothing is pip-installed into that interpreter (PEP 668 refuses it on Debian, Ubuntu and Homebrew):
Pipenv lives in ``.bootstrap/``, the project's packages in ``.venv/`` (``PIPENV_VENV_IN_PROJECT``), the
cdktf CLI in ``node_modules/``, and for ``test`` mermaid-cli in ``tools/review/node_modules/``. Every
step is skipped while what it made is current. Missing system tools are installed with apt-get (as
root, or through sudo); where that cannot happen, one line per tool names it with the command that
installs it, and the exit status is 1 before any test runs.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_DIR = ROOT / ".bootstrap"
VENV_DIR = ROOT / ".venv"
PIPENV_VERSION = "2026.10.3"
# The pinned packages' range: jsii, pydantic-core and checkov's compiled dependencies publish wheels
# for these; 3.14 is not yet covered by the lock.
SUPPORTED_PYTHON = ((3, 11), (3, 13))
MIN_NODE = 20
MIN_TERRAFORM = (1, 11)

PIPENV_ENVIRONMENT = {
    "PIPENV_VENV_IN_PROJECT": "1",  # .venv/ in the clone, not ~/.local/share/virtualenvs
    "PIPENV_IGNORE_VIRTUALENVS": "1",
    "PIPENV_VERBOSITY": "-1",
    "PIPENV_YES": "1",
    "PIPENV_NOSPIN": "1",
}


class BootstrapError(Exception):
    """A problem the user must fix; each line says what and how."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


@dataclass(frozen=True)
class Tool:
    """A program the tests run that no Python package provides."""

    name: str
    purpose: str
    present: Callable[[], bool]
    apt_package: str | None  # Debian/Ubuntu package; None: a prerequisite the user installs
    how: str = ""  # the install instruction when there is no apt package

    def instruction(self, apt: list[str]) -> str:
        return " ".join([*apt, self.apt_package]) if self.apt_package else self.how


def _version(argv: list[str], pattern: str) -> tuple[int, ...] | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        output = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, output)
    return tuple(int(part) for part in match.groups()) if match else None


def _at_least(argv: list[str], pattern: str, minimum: tuple[int, ...]) -> Callable[[], bool]:
    return lambda: (_version(argv, pattern) or (0,)) >= minimum


def _on_path(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _postgis_installed() -> bool:
    return bool(glob.glob("/usr/share/postgresql/*/extension/postgis.control")) and bool(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    )


NODE = Tool(
    "node",
    f"runs cdktf (jsii) and its CLI; Node.js {MIN_NODE}+",
    _at_least(["node", "--version"], r"v(\d+)", (MIN_NODE,)),
    None,
    f"install Node.js {MIN_NODE}+ with npm (https://nodejs.org/en/download)",
)
NPM = Tool("npm", "installs the cdktf CLI from package-lock.json", _on_path("npm"), None, NODE.how)
TERRAFORM = Tool(
    "terraform",
    "validates and plans every stack; Terraform 1.11+",
    _at_least(["terraform", "version"], r"Terraform v(\d+)\.(\d+)", MIN_TERRAFORM),
    None,
    "install Terraform 1.11+ (https://developer.hashicorp.com/terraform/install)",
)
RUNTIME_TOOLS = (NODE, NPM)
TEST_TOOLS = (
    TERRAFORM,
    Tool(
        "postgresql+postgis", "the backend tests' database server", _postgis_installed, "postgresql-postgis"
    ),
    Tool("redis-server", "the backend tests' cache server", _on_path("redis-server"), "redis-server"),
    Tool("caddy", "validates the EC2 host's Caddyfile and proxies to the app", _on_path("caddy"), "caddy"),
    Tool("openssl", "makes the backend tests' TLS certificates", _on_path("openssl"), "openssl"),
    Tool(
        "cloud-init", "validates the EC2 user data against its schema", _on_path("cloud-init"), "cloud-init"
    ),
    Tool("systemd-analyze", "verifies the EC2 host's systemd unit", _on_path("systemd-analyze"), "systemd"),
    Tool("jq", "runs the EC2 host's env-file script, as the host does", _on_path("jq"), "jq"),
    Tool(
        "unshare", "runs the app on a read-only root in the backend tests", _on_path("unshare"), "util-linux"
    ),
    Tool(
        "chromium",
        "renders the Mermaid diagrams (headless, for mermaid-cli)",
        lambda: any(shutil.which(name) for name in ("chromium", "chromium-browser")),
        "chromium",
    ),
)
# mermaid-cli has an npm prefix of its own: `make synth` never installs its ~500 MB (Mermaid,
# puppeteer), and a change to it never reinstalls the cdktf CLI.
RENDER_PREFIX = ROOT / "tools" / "review"


def apt_command() -> list[str] | None:
    """How this user runs apt-get: directly as root, through sudo, or not at all."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return ["apt-get"]
    if shutil.which("sudo") is None:
        return None
    # Without a terminal sudo cannot ask for a password: only a password-less sudo can install.
    if (
        not sys.stdin.isatty()
        and subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode
    ):
        return None
    return ["sudo", "DEBIAN_FRONTEND=noninteractive", "apt-get"]


def missing_lines(tools: Iterable[Tool], apt: list[str] | None) -> list[str]:
    install = ["apt-get" if apt == ["apt-get"] else "sudo apt-get", "install", "-y"]
    return [f"missing: {t.name} ({t.purpose}); install: {t.instruction(install)}" for t in tools]


def ensure_tools(tools: Iterable[Tool], *, install: bool) -> None:
    """Installs what apt can provide (when allowed), then fails with one line per tool still missing."""
    missing = [tool for tool in tools if not tool.present()]
    apt = apt_command()
    packages = sorted({tool.apt_package for tool in missing if tool.apt_package})
    if install and apt and packages:
        print(f"bootstrap: installing {' '.join(packages)} with {apt[-1]}", file=sys.stderr)
        run([*apt, "update", "-qq"], quiet=True)
        run([*apt, "install", "-y", "-qq", "--no-install-recommends", *packages], quiet=True)
        missing = [tool for tool in missing if not tool.present()]
    if missing:
        raise BootstrapError(missing_lines(missing, apt))


def check_python(version: tuple[int, int] = sys.version_info[:2]) -> None:
    low, high = SUPPORTED_PYTHON
    if not low <= version <= high:
        supported = f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
        choose = "choose one with `make PYTHON=python3.12 ...`"
        raise BootstrapError(
            [f"python: {sys.executable} is {version[0]}.{version[1]}; supported: {supported} ({choose})"]
        )
    try:
        import ensurepip  # noqa: F401  (Debian splits venv's pip bootstrap into python3-venv)
        import venv  # noqa: F401
    except ImportError:
        package = f"python3.{version[1]}-venv"
        raise BootstrapError(
            [f"missing: python venv support for {sys.executable}; install: sudo apt-get install -y {package}"]
        ) from None


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current(stamp: Path, value: str) -> bool:
    return stamp.is_file() and stamp.read_text().strip() == value


def interpreter_version(python: Path | str) -> str:
    """The interpreter's full version, or "" when it does not run (gone, or a dangling link)."""
    try:
        return subprocess.run(
            [str(python), "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return ""


def venv_stamp(dev: bool) -> str:
    return f"{digest(ROOT / 'Pipfile.lock')} {'dev' if dev else 'runtime'}"


def venv_current(dev: bool) -> bool:
    stamp = VENV_DIR / ".homu-synced"
    # The development set includes the runtime set, so a synced dev environment serves `synth` too.
    return any(current(stamp, venv_stamp(with_dev)) for with_dev in {dev, True})


def run(argv: list[str], quiet: bool = False, env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
    """Runs one set-up step; a quiet step's output is shown only when it fails."""
    environment = {**os.environ, **PIPENV_ENVIRONMENT, "DEBIAN_FRONTEND": "noninteractive", **(env or {})}
    result = subprocess.run(argv, cwd=cwd, env=environment, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise BootstrapError([f"bootstrap: `{' '.join(argv)}` failed with exit status {result.returncode}"])


def ensure_python_packages(dev: bool, python: str = sys.executable) -> None:
    """Pipenv into .bootstrap/ with that venv's own pip, then the project's packages into .venv/."""
    pipenv_stamp = BOOTSTRAP_DIR / "pipenv-version"
    # A stamp outlives the interpreter a venv links to: one that no longer runs is made again.
    if not current(pipenv_stamp, PIPENV_VERSION) or not interpreter_version(BOOTSTRAP_DIR / "bin" / "python"):
        run([python, "-m", "venv", "--clear", str(BOOTSTRAP_DIR)])
        run(
            [
                str(BOOTSTRAP_DIR / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"pipenv=={PIPENV_VERSION}",
            ]
        )
        pipenv_stamp.write_text(PIPENV_VERSION + "\n")
    venv_python = VENV_DIR / "bin" / "python"
    if os.path.lexists(venv_python) and interpreter_version(venv_python) != interpreter_version(python):
        shutil.rmtree(VENV_DIR)  # made by another (or a removed) interpreter: start clean, not mixed
    if not venv_current(dev):
        pipenv = str(BOOTSTRAP_DIR / "bin" / "pipenv")
        run([pipenv, "sync", "--python", python, *(["--dev"] if dev else [])])
        # sync only adds: what an older lock had and this one dropped must not hide a missing dependency.
        run([pipenv, "clean"], quiet=True)
        (VENV_DIR / ".homu-synced").write_text(venv_stamp(dev) + "\n")


def ensure_node_packages() -> None:
    stamp = ROOT / "node_modules" / ".homu-synced"
    value = digest(ROOT / "package-lock.json")
    if not current(stamp, value):
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"])
        stamp.write_text(value + "\n")


def ensure_render_packages() -> None:
    """mermaid-cli from tools/review/package-lock.json; it drives the system's Chromium (TEST_TOOLS)."""
    stamp = RENDER_PREFIX / "node_modules" / ".homu-synced"
    value = digest(RENDER_PREFIX / "package-lock.json")
    if current(stamp, value):
        return
    argv = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        # In the prefix's directory, not with --prefix: that flag also moves npm's global config (the
        # machine's registry and CA settings) to <prefix>/etc/npmrc. puppeteer's own Chrome download
        # fails offline and is not needed.
        run(argv, quiet=True, env={"PUPPETEER_SKIP_DOWNLOAD": "1"}, cwd=RENDER_PREFIX)
    except BootstrapError:
        purpose = "@mermaid-js/mermaid-cli, renders the Mermaid diagrams"
        directory = RENDER_PREFIX.relative_to(ROOT)
        raise BootstrapError(
            [
                f"missing: mmdc ({purpose}); install: (cd {directory} && PUPPETEER_SKIP_DOWNLOAD=1 {' '.join(argv)})"
            ]
        ) from None
    stamp.write_text(value + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.bootstrap", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=("synth", "dev", "test"), help="what the set-up is for")
    parser.add_argument("--no-install", action="store_true", help="never run apt-get; report what is missing")
    args = parser.parse_args(argv)
    tools = RUNTIME_TOOLS + (TEST_TOOLS if args.target == "test" else ())
    try:
        check_python()
        ensure_tools(tools, install=not args.no_install)
        ensure_python_packages(dev=args.target != "synth")
        ensure_node_packages()
        if args.target == "test":
            ensure_render_packages()
    except BootstrapError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return 1
    packages = "runtime" if args.target == "synth" else "runtime and development"
    tools = (
        ", tools/review/node_modules/ mermaid-cli, and the servers and validators the tests run are installed"
        if args.target == "test"
        else ""
    )
    print(
        f"bootstrap {args.target}: ready (.venv/ holds the {packages} packages, node_modules/ the cdktf CLI{tools})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
