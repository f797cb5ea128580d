"""Builds the cdktf app and writes it out without ever leaving a half-written ``cdktf.out``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from cdktf import App

from modules.adoption import import_existing
from modules.settings import Settings
from modules.stacks import DataStack, Ec2Stack, FargateStack, StateStack

DEFAULT_OUTDIR = Path("cdktf.out")
PROVIDER_LOCK = Path(__file__).resolve().parent.parent / "providers.lock.hcl"
# Terraform's working data (backend configuration, providers) of each environment and stack, beside
# the output directory: cdktf.out/stacks/<stack>/.terraform links to <environment>/<stack> in here.
WORKING_DATA = ".terraform-envs"


class _App(App):
    """Every synthesis (main.py, the CLI, the tools, the tests) ends in ``synth``, which also readies each
    stack directory for the Terraform the cdktf CLI runs there."""

    def __init__(self, *, outdir: Path, environment: str) -> None:
        super().__init__(outdir=str(outdir))
        self.environment = environment

    def synth(self) -> None:
        super().synth()
        outdir = Path(self.outdir).resolve()
        for name, stack in json.loads((outdir / "manifest.json").read_text())["stacks"].items():
            directory = outdir / stack["workingDirectory"]
            # Without a lock file the cdktf CLI runs `terraform providers lock`, which ignores a
            # filesystem mirror and needs the registry: every stack gets the committed one.
            shutil.copyfile(PROVIDER_LOCK, directory / ".terraform.lock.hcl")
            # One stack directory serves every environment, but its .terraform remembers one backend:
            # switching HOMU_SETTINGS_FILE would make `init` fail or offer to migrate dev's state into
            # production's key. Each environment gets its own working data instead.
            data = outdir.parent / WORKING_DATA / self.environment / name
            data.mkdir(parents=True, exist_ok=True)
            link = directory / ".terraform"
            if link.is_symlink():
                link.unlink()
            elif link.exists():
                shutil.rmtree(link)  # working data of a synthesis before this layout: a cache only
            link.symlink_to(os.path.relpath(data, directory), target_is_directory=True)


def build_app(settings: Settings, outdir: Path) -> App:
    app = _App(outdir=outdir, environment=settings.environment)
    StateStack(app, settings=settings)
    data = DataStack(app, settings=settings)
    stacks = (
        data,
        FargateStack(app, settings=settings, data=data),
        Ec2Stack(app, settings=settings, data=data),
    )
    if settings.adoption:
        for stack in stacks:
            import_existing(stack, settings.adoption.imports.get(stack.node.id, {}))
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
