from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.synth import Synth, synthesize

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = json.loads((ROOT / "environments" / "prod.json").read_text())
PROVIDER_MIRROR = Path("/opt/tf-plugins")


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Callable[..., Synth]:
    """``synth(**settings)``: synthesize that configuration once per session and reuse it."""
    cache: dict[str, Synth] = {}

    def _synth(**raw: Any) -> Synth:
        key = json.dumps(raw, sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(raw, tmp_path_factory.mktemp("synth"))
        return cache[key]

    return _synth


@pytest.fixture(scope="session")
def default(synth) -> Synth:
    """No settings at all: the guide's defaults."""
    return synth()


@pytest.fixture(scope="session")
def production(synth) -> Synth:
    """The committed production configuration (environments/prod.json)."""
    return synth(**PRODUCTION)


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory) -> dict[str, str]:
    """Environment for the terraform CLI: the offline provider mirror when this machine has one."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not installed; .ci/run installs it, see README 'Tests'")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    home = tmp_path_factory.mktemp("terraform")
    env["TF_PLUGIN_CACHE_DIR"] = str(home / "plugin-cache")
    (home / "plugin-cache").mkdir()
    env["TF_IN_AUTOMATION"] = "1"
    env["CHECKPOINT_DISABLE"] = "1"
    if PROVIDER_MIRROR.is_dir():
        config = home / "cli.tfrc"
        config.write_text(
            'provider_installation {\n  filesystem_mirror {\n'
            f'    path = "{PROVIDER_MIRROR}"\n    include = ["registry.terraform.io/hashicorp/*"]\n'
            '  }\n}\n'
        )
        env["TF_CLI_CONFIG_FILE"] = str(config)
    return env
