"""The ``existing_network`` setting: a VPC and subnets the stacks use instead of building their own.

What can be checked offline is checked here; what only AWS knows (each subnet's VPC and zone) is
checked at plan time by ``modules/existing_network.py``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_SUBNET_ID = re.compile(r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")
_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


class ExistingSubnet(BaseModel):
    """One subnet of the existing VPC; ``public`` means its route table sends 0.0.0.0/0 to an
    internet gateway (every default subnet does)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    availability_zone: str
    public: bool

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _SUBNET_ID.match(value):
            raise PydanticCustomError("subnet_id", "a subnet id, subnet- and 8 or 17 hex digits")
        return value

    @field_validator("availability_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not _ZONE.match(value):
            raise PydanticCustomError("zone", "an availability zone name such as ap-northeast-2a")
        return value


class ExistingNetwork(BaseModel):
    """A VPC the stacks do not own: they put their resources and groups into it and change nothing of its."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vpc_id: str
    # The VPC's primary CIDR, checked at plan time: a reader of the settings sees the address space.
    vpc_cidr: str
    subnets: list[ExistingSubnet]

    @field_validator("vpc_id")
    @classmethod
    def _vpc_id(cls, value: str) -> str:
        if not _VPC_ID.match(value):
            raise PydanticCustomError("vpc_id", "a VPC id, vpc- and 8 or 17 hex digits")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise PydanticCustomError("cidr", "the VPC's IPv4 CIDR, e.g. 172.31.0.0/16") from None
        return value

    @property
    def public_subnets(self) -> list[ExistingSubnet]:
        return [subnet for subnet in self.subnets if subnet.public]

    @property
    def private_subnets(self) -> list[ExistingSubnet]:
        return [subnet for subnet in self.subnets if not subnet.public]

    @property
    def data_subnets(self) -> list[ExistingSubnet]:
        """Where the database and cache go: the private subnets, or the public ones when there are none
        (the guide's default VPC), where only their security groups and no public endpoint guard them."""
        return self.private_subnets or self.public_subnets

    def problems(self, nat_gateways: str) -> Iterator[tuple[tuple[str | int, ...], object, str]]:
        """(location under ``existing_network``, value, what is allowed) for each rule that spans
        subnets or other settings."""
        seen: set[str] = set()
        for index, subnet in enumerate(self.subnets):
            if subnet.id in seen:
                yield ("subnets", index, "id"), subnet.id, "each subnet once; this id is listed before"
            seen.add(subnet.id)
        public = self.public_subnets
        if not public:
            yield (
                ("subnets",),
                [s.id for s in self.subnets],
                ("at least one subnet with public true, for the load balancer and the EC2 host"),
            )
        elif len({s.availability_zone for s in public}) < 2:
            yield (
                ("subnets",),
                sorted({s.availability_zone for s in public}),
                ("public subnets in at least two availability zones (an ALB needs two)"),
            )
        data = self.data_subnets
        if self.private_subnets and len({s.availability_zone for s in data}) < 2:
            yield (
                ("subnets",),
                sorted({s.availability_zone for s in data}),
                (
                    "private subnets in at least two availability zones (RDS and ElastiCache subnet "
                    "groups need two), or none so the data tier uses the public ones"
                ),
            )
        if nat_gateways != "none":
            reason = (
                "without private subnets the tasks run in public subnets with public IPs to reach ECR, "
                "Secrets Manager and CloudWatch Logs"
                if not self.private_subnets
                else "the stacks add no NAT gateway or route to a network they do not own"
            )
            yield ("nat_gateways",), nat_gateways, f"none with existing_network: {reason}"
