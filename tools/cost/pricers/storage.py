"""S3 buckets, ECR repositories and SSM parameters."""

from __future__ import annotations

from typing import Any

from tools.cost.model import Line
from tools.cost.pricers.context import Context


def price_s3_bucket(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    gb = ctx.assume["s3_gb"]
    label = body.get("bucket") or (
        str(body.get("bucket_prefix", "")) + "*" if body.get("bucket_prefix") else name
    )
    return [
        ctx.prices.line(
            f"aws_s3_bucket.{name}", f"S3 Standard {label} ({gb:g} GB)", gb, "GB-mo", "s3_standard_gb_month"
        )
    ]


def price_ecr_repository(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    gb = ctx.assume["ecr_gb"]
    return [
        ctx.prices.line(
            f"aws_ecr_repository.{name}",
            f"ECR storage {body.get('name', name)} ({gb:g} GB)",
            gb,
            "GB-mo",
            "ecr_storage_gb_month",
        )
    ]


def price_ssm_parameter(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    if str(body.get("tier", "Standard")) != "Advanced":
        return []  # standard parameters are free
    return [
        ctx.prices.line(
            f"aws_ssm_parameter.{name}",
            "advanced parameter",
            1,
            "parameter-mo",
            "ssm_advanced_parameter_month",
        )
    ]
