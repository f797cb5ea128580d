"""The service contract shared with the infrastructure code: ``contract.json``.

The file sits next to this package (``backend/contract.json`` in the repository, ``/app/contract.json``
in the image). Port, health path, API prefix and the names of the variables the service reads come
from it (injected ones, and local ones that only local development sets); nothing in the service
types them again. Standard library only, so the health probe can use it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "contract.json"


class ContractError(Exception):
    """contract.json is missing or malformed (a build problem, reported in one line)."""


@dataclass(frozen=True)
class Contract:
    port: int
    health_path: str
    api_v1_str: str
    user: str  # numeric UID the container runs as (the Dockerfile's USER, the ECS task's user)
    secrets: frozenset[str]
    environment: frozenset[str]
    local: frozenset[str]  # read by the service but never injected: local development sets them
    init: DatabaseInit

    @property
    def variables(self) -> frozenset[str]:
        """Every variable name the infrastructure injects into the app."""
        return self.secrets | self.environment


@dataclass(frozen=True)
class DatabaseInit:
    """The one-shot container that makes the app's database user before the app starts."""

    command: tuple[str, ...]
    secrets: frozenset[str]
    environment: frozenset[str]

    @property
    def variables(self) -> frozenset[str]:
        return self.secrets | self.environment


@cache
def load_contract(path: str | os.PathLike[str] = CONTRACT_PATH) -> Contract:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        port, health, api, user = raw["port"], raw["health_path"], raw["api_v1_str"], raw["user"]
        secrets, environment = frozenset(raw["secrets"]), frozenset(raw["environment"])
        local = frozenset(raw["local"])
        init_raw = raw["database_init"]
        init = DatabaseInit(
            tuple(init_raw["command"]), frozenset(init_raw["secrets"]), frozenset(init_raw["environment"])
        )
    except OSError as exc:
        raise ContractError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ContractError(f"{path} is malformed: {exc!r}") from None
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ContractError(f"{path}: port must be an integer in 1-65535")
    for key, value in (("health_path", health), ("api_v1_str", api)):
        if not isinstance(value, str) or not value.startswith("/"):
            raise ContractError(f"{path}: {key} must be a path starting with '/'")
    if not isinstance(user, str) or not user.isdigit() or int(user) == 0:
        raise ContractError(f"{path}: user must be a numeric, non-root UID as a string")
    if not init.command or not all(isinstance(part, str) for part in init.command):
        raise ContractError(f"{path}: database_init.command must be a non-empty list of strings")
    return Contract(port, health, api, user, secrets, environment, local, init)
