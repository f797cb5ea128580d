"""RDS instances: hours, storage, backups, the managed password, monitoring."""

from __future__ import annotations

from typing import Any

from tools.cost.model import Line, Unpriced
from tools.cost.pricers.context import Context


def price_db_instance(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_db_instance.{name}"
    engine, klass = body.get("engine"), body.get("instance_class")
    if body.get("replicate_source_db") and not engine:
        raise Unpriced("read replica without a literal engine")
    multi_az = body.get("multi_az") in (True, "true")
    copies = 2 if multi_az else 1
    az = "Multi-AZ: primary + standby" if multi_az else "Single-AZ"
    lines = [
        ctx.prices.line(
            address,
            f"RDS {engine} {klass} hours ({az})",
            copies * ctx.hours,
            "instance-h",
            f"rds_instance_hour:{engine}:{klass}",
        )
    ]
    storage_type = body.get("storage_type", "gp2")
    allocated = float(body.get("allocated_storage") or 0)
    if body.get("iops") and storage_type == "gp3" and allocated >= 400:
        raise Unpriced("provisioned gp3 IOPS are not priced")
    lines.append(
        ctx.prices.line(
            address,
            f"RDS {storage_type} storage {allocated:g} GB" + (" x 2 (standby)" if multi_az else ""),
            copies * allocated,
            "GB-mo",
            f"rds_storage_gb_month:{storage_type}",
        )
    )
    retention = int(body.get("backup_retention_period", 1) or 0)
    beyond = allocated * ctx.assume["rds_backup_change_pct_per_day"] / 100 * retention
    if beyond:
        lines.append(
            ctx.prices.line(
                address,
                f"RDS backups beyond free ({retention} days of changes)",
                beyond,
                "GB-mo",
                "rds_backup_gb_month",
            )
        )
    if body.get("manage_master_user_password") in (True, "true"):
        lines.append(
            ctx.prices.line(
                address,
                "Secrets Manager secret (RDS-managed master password)",
                1,
                "secret-mo",
                "secret_month",
            )
        )
    interval = int(body.get("monitoring_interval", 0) or 0)
    if interval > 0:
        gb = ctx.assume["rds_enhanced_monitoring_gb_at_60s"] * 60 / interval
        lines.append(
            ctx.prices.line(
                address,
                f"enhanced monitoring every {interval} s (RDSOSMetrics logs)",
                gb,
                "GB",
                "logs_ingest_gb",
            )
        )
    if (
        body.get("performance_insights_enabled") in (True, "true")
        and int(body.get("performance_insights_retention_period", 7) or 7) > 7
    ):
        raise Unpriced("Performance Insights retention beyond the free 7 days is not priced")
    return lines
