"""The two sides of a review, synthesized without a credential and without touching the user's tree.

The base is checked out into a temporary git worktree (removed afterwards, whatever happens) and the
head is the working tree as it is, uncommitted changes included. Each side is synthesized once per
configuration: the defaults (``default``) and every ``environments/*.json`` of that side, each into a
temporary directory, with this environment's Python running that side's ``main.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modules.settings import ENV_PREFIX, SETTINGS_FILE_VARIABLE

DEFAULT_CONFIGURATION = "default"
ENVIRONMENTS = "environments"
# Nothing a synthesis could sign or log in with (it makes no AWS call; this keeps it so), and none of
# the user's HOMU_* settings: each side synthesizes what it commits.
_CREDENTIAL_PREFIXES = (
    "AWS_",
    "ACTIONS_ID_TOKEN_",
    "GITHUB_",
    "GH_",
    "TF_TOKEN_",
    "SSH_AUTH_SOCK",
    ENV_PREFIX,
)
_CREDENTIAL_SUFFIXES = ("_TOKEN", "_SECRET", "_PASSWORD", "_KEY")
# Shared credential files and the instance metadata endpoint stay out of reach.
_NO_AWS = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


class ReviewError(Exception):
    """Git or synthesis failed in a way that leaves nothing to review; the message says what."""


@dataclass(frozen=True)
class Side:
    label: str  # what the report calls this side, e.g. "main (`1a2b3c4`)"
    tree: Path
    commit: str = ""  # empty for the working tree


@dataclass
class Synthesis:
    configuration: str
    outdir: Path | None  # None: this side has no such configuration
    error: str = ""  # the synthesis's own last lines when it failed


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], check=False, capture_output=True, text=True)
    if result.returncode:
        raise ReviewError(f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def default_base(root: Path) -> str:
    """The merge base of HEAD with ``main`` (or ``origin/main`` in a clone without a local main)."""
    for candidate in ("main", "origin/main"):
        try:
            git(root, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
        except ReviewError:
            continue
        return git(root, "merge-base", "HEAD", candidate)
    raise ReviewError(
        "no branch main or origin/main here: name the base, e.g. `python -m tools.review origin/dev`"
    )


def head_label(root: Path) -> str:
    commit = git(root, "rev-parse", "--short", "HEAD")
    dirty = git(root, "status", "--porcelain", "--untracked-files=no")
    return f"`{commit}` + uncommitted changes" if dirty else f"`{commit}`"


@contextmanager
def base_worktree(root: Path, base: str) -> Iterator[Side]:
    commit = git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") if base else ""
    if not commit:
        raise ReviewError(f"base {base!r} is not a commit here")
    short = git(root, "rev-parse", "--short", commit)
    label = f"`{short}`" if base.startswith(short[:7]) else f"{base} (`{short}`)"
    with tempfile.TemporaryDirectory(prefix="homu-review-base-") as tmp:
        tree = Path(tmp) / "tree"
        try:  # a worktree add cut short is removed too
            git(root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
            yield Side(label, tree, commit)
        finally:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
            subprocess.run(["git", "-C", str(root), "worktree", "prune"], check=False, capture_output=True)


def configurations(tree: Path) -> list[str]:
    return [DEFAULT_CONFIGURATION, *sorted(p.stem for p in (tree / ENVIRONMENTS).glob("*.json"))]


def clean_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for key in [k for k in env if k.startswith(_CREDENTIAL_PREFIXES) or k.endswith(_CREDENTIAL_SUFFIXES)]:
        del env[key]
    return {**env, **_NO_AWS, "CHECKPOINT_DISABLE": "1"}


def synthesize_main(tree: Path, settings_file: Path | None, outdir: Path) -> str:
    """``main.py`` of ``tree`` in a child process, with no credential and none of the user's
    settings, the settings file (or the defaults) into ``outdir``; "" or the end of what it said."""
    env = clean_environment()
    if settings_file is not None:
        env[SETTINGS_FILE_VARIABLE] = str(settings_file)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    env["CDKTF_OUTDIR"] = str(outdir)
    result = subprocess.run(
        [sys.executable, "main.py"],
        check=False,
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return "\n".join(lines[-5:]) or f"exit {result.returncode}"
    return ""


def synthesize(tree: Path, configuration: str, outdir: Path) -> Synthesis:
    settings_file = None
    if configuration != DEFAULT_CONFIGURATION:
        settings_file = tree / ENVIRONMENTS / f"{configuration}.json"
        if not settings_file.is_file():
            return Synthesis(configuration, None)
    if error := synthesize_main(tree, settings_file, outdir):
        return Synthesis(configuration, None, error)
    return Synthesis(configuration, outdir)


def synthesize_sides(
    base: Side, head: Side, names: list[str] | None, workdir: Path
) -> dict[str, tuple[Synthesis, Synthesis]]:
    """``{configuration: (base, head)}`` for the named configurations or every one either side has;
    two syntheses at a time (each is one Python process, mostly waiting on the AWS bindings' import)."""
    wanted = names or list(dict.fromkeys([*configurations(head.tree), *configurations(base.tree)]))
    jobs = [(side, name) for name in wanted for side in (base, head)]
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        done = list(
            pool.map(
                lambda job: synthesize(
                    job[0].tree, job[1], workdir / ("base" if job[0] is base else "head") / job[1] / "out"
                ),
                jobs,
            )
        )
    finally:
        # On Ctrl-C the queued syntheses never start: the worktree is removed at once.
        pool.shutdown(cancel_futures=True)
    return {name: (done[2 * i], done[2 * i + 1]) for i, name in enumerate(wanted)}
