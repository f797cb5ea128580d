"""The ``adoption`` setting: what ``python -m tools.adopt`` found of a deployment built by hand
(the guide's) and what the stacks must mirror so that the first apply imports it instead of colliding
with it or replacing the data it holds (docs/adopting.md).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from modules.names import REMOTE_STATE_STACKS

_ADDRESS = re.compile(r"^aws_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_-]*$")


class Retirement(BaseModel):
    """What the hand-built deployment leaves that the design removes, found by adopt through its
    relations before the first apply moves them away; ``python -m tools.adopt retire`` removes it
    once the stacks serve. The stacks read none of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    security_groups: list[str] = []
    instances: list[str] = []
    secrets: list[str] = []
    target_groups: list[str] = []


class Adoption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # stack -> Terraform address -> the id ``terraform import`` takes; synthesized as ``import`` blocks.
    imports: dict[str, dict[str, str]] = {}
    # The key the database is encrypted with: another key replaces the instance, its data with it.
    database_kms_key_id: str | None = Field(None, min_length=1)
    # ECR fixes a repository's encryption at creation: another type replaces it, its images with it.
    registry_encryption: Literal["KMS", "AES256"] = "KMS"
    # Appended to the names of the project's security groups: the hand-built groups keep theirs (a
    # name is unique in a VPC) until the retire step removes them.
    group_name_suffix: str = Field("", pattern=r"^(-[a-z0-9]{1,16})?$")
    retire: Retirement = Retirement()

    @field_validator("imports")
    @classmethod
    def _addresses(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for stack, addresses in value.items():
            if stack not in REMOTE_STATE_STACKS:
                raise PydanticCustomError(
                    "stack",
                    "stacks among {allowed}, not {stack}",
                    {"allowed": ", ".join(REMOTE_STATE_STACKS), "stack": stack},
                )
            for address, import_id in addresses.items():
                if not _ADDRESS.match(address) or not import_id:
                    raise PydanticCustomError(
                        "address",
                        "TYPE.NAME addresses with a non-empty import id, not {address} = {id!r}",
                        {"address": address, "id": import_id},
                    )
        return value
