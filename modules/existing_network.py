"""A VPC and subnets the stacks do not own (``existing_network``), e.g. the guide's default VPC."""

from __future__ import annotations

from cdktf import Postcondition
from constructs import Construct

from modules import aws
from modules.existing_network_settings import ExistingNetwork as ExistingNetworkSettings
from modules.network import flow_logs


class ExistingNetwork(Construct):
    """What ``Network`` publishes, read from the settings, plus a plan-time check of each subnet.

    Creates no VPC, subnet, route, gateway or NAT, and leaves the VPC's default network ACL and
    default security group alone: they belong to the account, and other workloads may rely on them.
    The security groups stay the control around the data tier. Only a flow log is added to the VPC
    (additive: it changes no traffic).
    """

    vpc_id: str
    public_subnet_ids: list[str]
    # Where the database and cache go: the private subnets, or the public ones when there are none.
    data_subnet_ids: list[str]
    data_subnets_kind: str  # how their subnet groups describe them: "Private subnets" or "Public subnets"
    private_subnet_ids: list[str]
    private_route_table_ids: list[str]  # always empty: the stacks add no routes to this network

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        network: ExistingNetworkSettings,
        name: str,
        region: str,
        flow_log_retention_days: int,
        kms_key_arn: str | None,
    ) -> None:
        super().__init__(scope, id_)
        aws.data_aws_vpc.DataAwsVpc(
            self,
            "vpc",
            id=network.vpc_id,
            lifecycle={
                "postcondition": [
                    Postcondition(
                        condition=f'${{self.cidr_block == "{network.vpc_cidr}"}}',
                        error_message=f"existing_network.vpc_cidr: {network.vpc_id}'s CIDR is "
                        f"${{self.cidr_block}}, not {network.vpc_cidr}",
                    )
                ]
            },
        )
        for index, subnet in enumerate(network.subnets):
            setting = f"existing_network.subnets[{index}] {subnet.id}"
            # Synthesis is offline; a plan reads each subnet and stops here, naming the setting.
            aws.data_aws_subnet.DataAwsSubnet(
                self,
                f"subnet-{index}",
                id=subnet.id,
                lifecycle={
                    "postcondition": [
                        Postcondition(
                            condition=f'${{self.vpc_id == "{network.vpc_id}"}}',
                            error_message=f"{setting}: in ${{self.vpc_id}}, not {network.vpc_id} "
                            "(existing_network.vpc_id)",
                        ),
                        Postcondition(
                            condition=f'${{self.availability_zone == "{subnet.availability_zone}"}}',
                            error_message=f"{setting}: in zone ${{self.availability_zone}}, not "
                            f"{subnet.availability_zone} as the setting says",
                        ),
                    ]
                },
            )
        self.vpc_id = network.vpc_id
        self.public_subnet_ids = [s.id for s in network.public_subnets]
        self.private_subnet_ids = [s.id for s in network.private_subnets]
        self.data_subnet_ids = [s.id for s in network.data_subnets]
        self.data_subnets_kind = "Private subnets" if network.private_subnets else "Public subnets"
        self.private_route_table_ids = []
        flow_logs(
            self,
            name=name,
            region=region,
            vpc_id=network.vpc_id,
            retention_days=flow_log_retention_days,
            kms_key_arn=kms_key_arn,
        )
