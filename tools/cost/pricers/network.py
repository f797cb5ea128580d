"""Load balancers, NAT gateways, Elastic IPs, Route 53 hosted zones and ACM certificates."""

from __future__ import annotations

from typing import Any

from tools.cost.model import Line, Unpriced
from tools.cost.pricers.context import Context


def price_lb(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    kind = body.get("load_balancer_type", "application")
    if kind != "application":
        raise Unpriced(f"load balancer type {kind!r}: only application load balancers are priced")
    address = f"aws_lb.{name}"
    lines = [
        ctx.prices.line(address, "ALB hours", ctx.hours, "ALB-h", "alb_hour"),
        ctx.prices.line(
            address,
            f"ALB LCUs ({ctx.assume['alb_lcu']:g} on average)",
            ctx.assume["alb_lcu"] * ctx.hours,
            "LCU-h",
            "alb_lcu_hour",
        ),
    ]
    if not body.get("internal", False):
        subnets = ctx.resolve(body.get("subnets")) or body.get("subnet_mapping") or []
        if not isinstance(subnets, list):  # an expression: its length is not the number of AZs
            raise Unpriced(f"subnets {subnets!r}: the number of AZs (one public IPv4 each) is unknown")
        zones = max(len(subnets), 1)
        lines.append(
            ctx.prices.line(
                address, f"public IPv4, one per AZ ({zones})", zones * ctx.hours, "IPv4-h", "public_ipv4_hour"
            )
        )
    return lines


def price_nat_gateway(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_nat_gateway.{name}"
    gb = ctx.assume["nat_gb_per_gateway"]
    # Its public address is the aws_eip it allocates, priced there.
    return [
        ctx.prices.line(address, "NAT gateway hours", ctx.hours, "NAT-h", "nat_gateway_hour"),
        ctx.prices.line(address, f"NAT data processed ({gb:g} GB)", gb, "GB", "nat_gateway_gb"),
    ]


def price_eip(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_eip.{name}"
    users = [
        f"aws_nat_gateway.{n}"
        for n, nat in ctx.stack.resources("aws_nat_gateway").items()
        if ctx.stack.refers_to(nat.get("allocation_id"), "aws_eip", name)
    ]
    users += [f"aws_instance.{n}" for n, _ in ctx.stack.referenced(body.get("instance"), "aws_instance")]
    what = f"public IPv4 (Elastic IP{', ' + users[0] if users else ''})"
    return [ctx.prices.line(address, what, ctx.hours, "IPv4-h", "public_ipv4_hour")]


def price_route53_zone(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    return [
        ctx.prices.line(
            f"aws_route53_zone.{name}",
            f"hosted zone {body.get('name', name)}",
            1,
            "zone-mo",
            "route53_hosted_zone_month",
        )
    ]


def price_acm_certificate(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    if body.get("certificate_authority_arn"):
        raise Unpriced("private certificate (AWS Private CA) is not priced")
    return []  # public ACM certificates are free
