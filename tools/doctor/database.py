"""The guide's "the database connection fails": the instance's status, every hop from the app to it on
5432, the endpoint the app is given, and ``rds.force_ssl``."""

from __future__ import annotations

from typing import Any

from modules.names import DATA_STACK, POSTGRES_PORT
from modules.settings import Settings
from tools.doctor.app import App
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.endpoints import endpoint_check
from tools.doctor.model import Check, ok, problem, unchecked
from tools.doctor.reach import Peer, path_checks

AREA = "database"
# States in which the instance takes connections (maintenance and backups run while it serves).
SERVING = {
    "available",
    "backing-up",
    "modifying",
    "configuring-enhanced-monitoring",
    "configuring-log-exports",
    "configuring-iam-database-auth",
    "storage-optimization",
    "maintenance",
    "upgrading",
}


def database_checks(
    aws: Aws, settings: Settings, data: dict[str, Any], stack: str, app: App | None, why: str
) -> list[Check]:
    identifier = settings.db_identifier
    title = f"the database {identifier} is available"
    try:
        db = aws.call("rds", "describe_db_instances", DBInstanceIdentifier=identifier)["DBInstances"][0]
    except CallFailed as error:
        if error.missing:
            return [
                problem(
                    stack,
                    AREA,
                    title,
                    f"no RDS instance {identifier} exists",
                    [f"python -m tools.cdktf deploy {DATA_STACK}"],
                )
            ]
        return [unchecked(stack, AREA, title, str(error))]
    checks = [_status(aws, stack, db, title)]
    if app is None:
        checks.append(
            unchecked(stack, AREA, f"the path from the app to {identifier} on {POSTGRES_PORT}", why)
        )
    else:
        peer = Peer(
            AREA,
            f"the database {identifier}",
            [g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])],
            [s["SubnetIdentifier"] for s in db.get("DBSubnetGroup", {}).get("Subnets", [])],
        )
        checks += path_checks(aws, app, peer, POSTGRES_PORT)
        endpoint = db.get("Endpoint")
        if endpoint:
            actual = (endpoint["Address"], endpoint["Port"])
            names = ("DATABASE_URL", "database_url", "database_endpoint")
            checks.append(endpoint_check(app, AREA, f"the database {identifier}", actual, data, names))
        else:
            checks.append(
                unchecked(
                    stack,
                    AREA,
                    f"the endpoint the app is given is {identifier}'s",
                    f"{identifier} reports no endpoint while {db['DBInstanceStatus']}",
                )
            )
    checks.append(_force_ssl(aws, stack, db))
    return checks


def _status(aws: Aws, stack: str, db: dict[str, Any], title: str) -> Check:
    identifier, status = db["DBInstanceIdentifier"], db["DBInstanceStatus"]
    if status in SERVING:
        return ok(
            stack, AREA, title, f"{identifier} is {status} ({db['Engine']} {db.get('EngineVersion', '')})"
        )
    if status in ("stopped", "stopping"):
        return problem(
            stack,
            AREA,
            title,
            f"{identifier} is {status}: nothing answers on {POSTGRES_PORT} (AWS starts a stopped instance "
            "again by itself after 7 days)",
            [f"aws rds start-db-instance --region {aws.region} --db-instance-identifier {identifier}"],
        )
    if status in ("creating", "starting", "rebooting", "renaming", "resetting-master-credentials"):
        return unchecked(
            stack, AREA, title, f"{identifier} is {status}: run the doctor again in a few minutes"
        )
    return problem(
        stack,
        AREA,
        title,
        f"{identifier} is {status}",
        [
            f"aws rds describe-events --region {aws.region} --source-type db-instance --source-identifier {identifier} --duration 1440"
        ],
    )


def _force_ssl(aws: Aws, stack: str, db: dict[str, Any]) -> Check:
    title = "the database refuses connections without TLS (rds.force_ssl = 1)"
    groups = db.get("DBParameterGroups", [])
    if not groups:
        return unchecked(stack, AREA, title, f"{db['DBInstanceIdentifier']} names no parameter group")
    name, applied = groups[0]["DBParameterGroupName"], groups[0].get("ParameterApplyStatus", "in-sync")
    try:
        parameters = aws.pages("rds", "describe_db_parameters", "Parameters", DBParameterGroupName=name)
    except CallFailed as error:
        return unchecked(stack, AREA, title, str(error))
    value = next((p.get("ParameterValue") for p in parameters if p["ParameterName"] == "rds.force_ssl"), None)
    fix = [
        f"python -m tools.cdktf deploy {DATA_STACK}   (the parameter group is the stack's)",
        (
            f"aws rds modify-db-parameter-group --region {aws.region} --db-parameter-group-name {name} "
            "--parameters ParameterName=rds.force_ssl,ParameterValue=1,ApplyMethod=immediate"
        ),
    ]
    if value != "1":
        return problem(
            stack, AREA, title, f"{name} has rds.force_ssl = {value or 'unset (engine default)'}", fix
        )
    return ok(stack, AREA, title, f"{name}: rds.force_ssl = 1, {applied}")
