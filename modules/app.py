"""Builds the cdktf app and writes it out without ever leaving a half-written ``cdktf.out``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from cdktf import App

from modules.settings import Settings
from modules.stacks import DataStack, Ec2Stack, FargateStack, StateStack

DEFAULT_OUTDIR = Path("cdktf.out")
PROVIDER_LOCK = Path(__file__).resolve().parent.parent / "providers.lock.hcl"


class _App(App):
    def synth(self) -> None:
        super().synth()
        # Without a .terraform.lock.hcl in a stack directory the cdktf CLI runs `terraform providers
        # lock`, which ignores a filesystem mirror and needs the registry: every stack gets the
        # committed lock file, here because every synthesis (main.py, the CLI, tools, tests) ends here.
        outdir = Path(self.outdir)
        for stack in json.loads((outdir / "manifest.json").read_text())["stacks"].values():
            shutil.copyfile(PROVIDER_LOCK, outdir / stack["workingDirectory"] / ".terraform.lock.hcl")


def build_app(settings: Settings, outdir: Path) -> App:
    app = _App(outdir=str(outdir))
    StateStack(app, settings=settings)
    data = DataStack(app, settings=settings)
    FargateStack(app, settings=settings, data=data)
    Ec2Stack(app, settings=settings, data=data)
    return app


def warnings(outdir: Path) -> list[str]:
    """The warnings constructs attached to their stacks (cdktf annotations) in a synthesized output."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    return [
        note["message"]
        for stack in manifest["stacks"].values()
        for note in stack["annotations"]
        if note["level"] == "@cdktf/warn"
    ]


def synth(settings: Settings) -> Path:
    """Synthesize every stack; returns the output directory.

    Under the cdktf CLI (which sets ``CDKTF_OUTDIR``) the CLI owns the directory. Run directly, the
    app synthesizes into a sibling temporary directory and swaps it in only when complete, so a
    crash midway leaves the previous output as it was.
    """
    if os.environ.get("CDKTF_OUTDIR"):
        outdir = Path(os.environ["CDKTF_OUTDIR"])
        build_app(settings, outdir).synth()
        return outdir
    target = DEFAULT_OUTDIR.resolve()
    staging = Path(tempfile.mkdtemp(prefix=".cdktf.out-", dir=target.parent))
    try:
        build_app(settings, staging).synth()
        previous = target.with_name(f"{staging.name}-previous")
        if target.exists():
            target.rename(previous)
        staging.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
