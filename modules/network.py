"""VPC over several availability zones: public subnets for the entry point, private ones for data."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cdktf import Fn
from constructs import Construct

from modules import aws, iam
from modules.monitoring import log_group
from modules.names import HTTP_PORT, HTTPS_PORT, INTERNET_V4

# Private subnets start at this index of the VPC's /24s, so public and private ranges read apart
# (10.0.0.0/24, 10.0.1.0/24 public; 10.0.10.0/24, 10.0.11.0/24 private).
_PRIVATE_OFFSET = 10
# Return traffic of connections the VPC opens (NAT gateways use 1024-65535), minus 3389 so that
# nothing from the internet reaches RDP; 22 lies below the range.
EPHEMERAL_PORTS = ((1024, 3388), (3390, 65535))


@dataclass(frozen=True)
class AclRule:
    """One allow rule of a network ACL: protocol, peer CIDR, port range (or ICMP type and code)."""

    protocol: str
    cidr: str
    ports: tuple[int, int] = (0, 0)
    icmp: tuple[int, int] | None = None

    def entry(self, number: int) -> dict[str, object]:
        peer = {"ipv6_cidr_block": self.cidr} if ":" in self.cidr else {"cidr_block": self.cidr}
        icmp = {"icmp_type": self.icmp[0], "icmp_code": self.icmp[1]} if self.icmp else {}
        low, high = self.ports
        return {
            "rule_no": number,
            "action": "allow",
            "protocol": self.protocol,
            "from_port": low,
            "to_port": high,
            **peer,
            **icmp,
        }


def _numbered(rules: list[AclRule]) -> list[tuple[int, AclRule]]:
    """Rule numbers 100, 110, ...: the order is the evaluation order, with room to insert."""
    return [(100 + 10 * index, rule) for index, rule in enumerate(rules)]


class Network(Construct):
    """VPC, subnets, routing and flow logs: everything both computes and the data tier sit in.

    Private subnets get an internet route only from ``NatGateways``, which the compute that needs
    one owns: the database and cache never need it, and the EC2 option has no private compute.
    """

    vpc_id: str
    public_subnet_ids: list[str]  # one per zone, routed to the internet gateway
    private_subnet_ids: list[str]  # one per zone; an internet route only through ``NatGateways``
    private_route_table_ids: list[str]  # one per zone, for the routes ``NatGateways`` adds
    data_subnet_ids: list[str]  # where the database and cache go: the private subnets
    data_subnets_kind = "Private subnets"  # how their subnet groups describe them

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        cidr: str,
        region: str,
        zone_count: int = 2,
        flow_log_retention_days: int = 30,
        kms_key_arn: str | None = None,
        entry_ports: tuple[int, ...] = (HTTP_PORT, HTTPS_PORT),
        admin_cidr: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        zones = aws.data_aws_availability_zones.DataAwsAvailabilityZones(
            self,
            "zones",
            state="available",
            filter=[
                aws.data_aws_availability_zones.DataAwsAvailabilityZonesFilter(
                    name="opt-in-status", values=["opt-in-not-required"]
                ),
                # A closed set of names: a zone AWS adds later cannot shift the subnets' zones.
                aws.data_aws_availability_zones.DataAwsAvailabilityZonesFilter(
                    name="zone-name", values=[f"{region}{letter}" for letter in "abcdef"]
                ),
            ],
        )
        self._vpc = aws.vpc.Vpc(
            self,
            "vpc",
            cidr_block=cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": name},
        )
        # Without rules the default group denies everything, so nothing can fall back on it.
        aws.default_security_group.DefaultSecurityGroup(
            self, "default-sg", vpc_id=self._vpc.id, tags={"Name": f"{name}-default-deny"}
        )

        blocks = list(ipaddress.IPv4Network(cidr).subnets(new_prefix=24))
        igw = aws.internet_gateway.InternetGateway(self, "igw", vpc_id=self._vpc.id, tags={"Name": name})
        public_routes = aws.route_table.RouteTable(
            self, "public-rt", vpc_id=self._vpc.id, tags={"Name": f"{name}-public"}
        )
        aws.route.Route(
            self,
            "public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
        )

        public, private, private_routes = [], [], []
        for index in range(zone_count):
            zone = Fn.element(zones.names, index)
            subnet = aws.subnet.Subnet(
                self,
                f"public-{index}",
                vpc_id=self._vpc.id,
                availability_zone=zone,
                cidr_block=str(blocks[index]),
                # Nothing gets a public address by accident; the EC2 host asks for one explicitly.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{index}", "Tier": "public"},
            )
            aws.route_table_association.RouteTableAssociation(
                self, f"public-{index}-rt", subnet_id=subnet.id, route_table_id=public_routes.id
            )
            public.append(subnet)

        for index in range(zone_count):
            subnet = aws.subnet.Subnet(
                self,
                f"private-{index}",
                vpc_id=self._vpc.id,
                availability_zone=Fn.element(zones.names, index),
                cidr_block=str(blocks[_PRIVATE_OFFSET + index]),
                tags={"Name": f"{name}-private-{index}", "Tier": "private"},
            )
            routes = aws.route_table.RouteTable(
                self, f"private-{index}-rt", vpc_id=self._vpc.id, tags={"Name": f"{name}-private-{index}"}
            )
            aws.route_table_association.RouteTableAssociation(
                self, f"private-{index}-rta", subnet_id=subnet.id, route_table_id=routes.id
            )
            private.append(subnet)
            private_routes.append(routes)

        self.vpc_id = self._vpc.id
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.private_route_table_ids = [r.id for r in private_routes]
        self.data_subnet_ids = self.private_subnet_ids
        self._default_network_acl(name, cidr, [*public, *private], entry_ports, admin_cidr)
        flow_logs(
            self,
            name=name,
            region=region,
            vpc_id=self._vpc.id,
            retention_days=flow_log_retention_days,
            kms_key_arn=kms_key_arn,
        )

    def _default_network_acl(
        self, name: str, cidr: str, subnets: list, entry_ports: tuple[int, ...], admin_cidr: str | None
    ) -> None:
        """The subnets' ACL, which AWS leaves allowing everything. It is stateless, so each flow is
        allowed both ways: anything inside the VPC, the entry ports from the internet and their
        replies, and the replies to the HTTPS/HTTP connections the VPC opens (images, APIs, packages).
        The security groups stay the fine-grained control; this is the coarse one beneath them."""
        acl = aws.default_network_acl
        within_vpc = AclRule("-1", cidr)
        ingress = [
            within_vpc,
            *(AclRule("tcp", INTERNET_V4, (port, port)) for port in entry_ports),
            *(AclRule("tcp", INTERNET_V4, ports) for ports in EPHEMERAL_PORTS),
            # "Fragmentation needed" from the internet, without which path-MTU discovery stalls.
            AclRule("icmp", INTERNET_V4, icmp=(3, 4)),
            *([AclRule("tcp", admin_cidr, (22, 22))] if admin_cidr else []),
        ]
        egress = [
            within_vpc,
            AclRule("tcp", INTERNET_V4, (HTTPS_PORT, HTTPS_PORT)),
            AclRule("tcp", INTERNET_V4, (HTTP_PORT, HTTP_PORT)),
            # Replies to clients on the internet (and to the admin network's SSH sessions).
            AclRule("tcp", INTERNET_V4, (1024, 65535)),
        ]
        acl.DefaultNetworkAcl(
            self,
            "default-acl",
            default_network_acl_id=self._vpc.default_network_acl_id,
            subnet_ids=[subnet.id for subnet in subnets],
            ingress=[
                acl.DefaultNetworkAclIngress(**rule.entry(number)) for number, rule in _numbered(ingress)
            ],
            egress=[acl.DefaultNetworkAclEgress(**rule.entry(number)) for number, rule in _numbered(egress)],
            tags={"Name": f"{name}-default"},
        )


def flow_logs(
    scope: Construct, *, name: str, region: str, vpc_id: str, retention_days: int, kms_key_arn: str | None
) -> None:
    """Rejected and accepted flows of ``vpc_id`` to CloudWatch, so a blocked connection can be diagnosed."""
    account = aws.data_aws_caller_identity.DataAwsCallerIdentity(scope, "account")
    group = log_group(
        scope,
        "flow-logs",
        name=f"/vpc/{name}/flow-logs",
        retention_days=retention_days,
        kms_key_arn=kms_key_arn,
    )
    role = aws.iam_role.IamRole(
        scope,
        "flow-logs-role",
        name_prefix=f"{name}-flow-logs-",
        assume_role_policy=iam.service_trust(
            "vpc-flow-logs.amazonaws.com",
            source_account=account.account_id,
            source_arn=f"arn:aws:ec2:{region}:{account.account_id}:vpc-flow-log/*",
        ),
    )
    aws.iam_role_policy.IamRolePolicy(
        scope,
        "flow-logs-write",
        role=role.id,
        name="write-flow-logs",
        policy=iam.document(
            iam.statement(
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [f"{group.arn}:*"],
            )
        ),
    )
    aws.flow_log.FlowLog(
        scope,
        "flow-log",
        vpc_id=vpc_id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=600,
    )


class NatGateways(Construct):
    """Internet egress for private subnets: ``count`` gateways (1 shared, the cheap default, or one
    per zone, which survives the loss of a zone), each private route table routed to one of them.

    Owned by the compute that sits in private subnets and pulls images and secrets (Fargate), so the
    EC2 option and a data tier on its own pay for none.
    """

    routes: list  # the private subnets' default routes, for what must wait until they exist

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        count: int,
        public_subnet_ids: list[str],
        private_route_table_ids: list[str],
        zone_count: int,
    ) -> None:
        super().__init__(scope, id_)
        if not 1 <= count <= zone_count:
            raise ValueError(f"count must be between 1 and {zone_count}, got {count}")
        gateways = []
        for index in range(count):
            address = aws.eip.Eip(self, f"nat-{index}-ip", domain="vpc", tags={"Name": f"{name}-nat-{index}"})
            gateways.append(
                aws.nat_gateway.NatGateway(
                    self,
                    f"nat-{index}",
                    allocation_id=address.id,
                    subnet_id=Fn.element(public_subnet_ids, index),
                    tags={"Name": f"{name}-nat-{index}"},
                )
            )
        self.routes = []
        for index in range(zone_count):
            route = aws.route.Route(
                self,
                f"private-{index}-default",
                route_table_id=Fn.element(private_route_table_ids, index),
                destination_cidr_block=INTERNET_V4,
                nat_gateway_id=gateways[index % count].id,
            )
            self.routes.append(route)
