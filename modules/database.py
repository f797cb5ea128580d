"""RDS PostgreSQL 15 (PostGIS is an extension the app creates): private, encrypted, SSL-only."""

from __future__ import annotations

from cdktf import Fn, Token
from constructs import Construct

from modules import aws, iam
from modules.monitoring import log_group
from modules.names import POSTGRES_PORT
from modules.policy import skip_check

ENGINE_MAJOR_VERSION = "15"
# Logs RDS exports to CloudWatch; their groups are created here so they get a retention.
EXPORTED_LOGS = ("postgresql", "upgrade")
CA_CERTIFICATE = "rds-ca-rsa2048-g1"


class Database(Construct):
    """One PostgreSQL instance with RDS-managed master credentials.

    RDS generates the master password, keeps it in Secrets Manager and rotates it (every 7 days):
    it never passes through this code, the synthesized JSON or the Terraform state.
    ``master_secret_arn`` is that secret (JSON with ``username`` and ``password``), for
    administrators and the one-shot ``app.dbinit``; the app signs in as its own user with IAM tokens
    (``connect_arn``), so a rotation never reaches it.
    """

    identifier: str  # the instance identifier, as a reference that orders dependants after the instance
    parameter_group_name: str  # its parameter group (rds.force_ssl), whose changes are events too
    address: str  # the instance's host name (TLS only on POSTGRES_PORT)
    master_secret_arn: str  # RDS's own secret with the master ``username`` and ``password``

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        identifier: str,
        db_name: str,
        username: str,
        instance_class: str,
        allocated_storage: int,
        max_allocated_storage: int,
        backup_retention_days: int,
        monitoring_interval: int,
        multi_az: bool,
        deletion_protection: bool,
        skip_final_snapshot: bool,
        subnet_ids: list[str],
        subnets_kind: str,
        security_group_id: str,
        log_retention_days: int,
        kms_key_arn: str,
        kms_key_id: str,
        region: str,
        storage_kms_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")
        subnets = aws.db_subnet_group.DbSubnetGroup(
            self,
            "subnets",
            name=f"{identifier}-subnets",
            subnet_ids=subnet_ids,
            description=f"{subnets_kind} of {identifier}",
        )
        parameters = aws.db_parameter_group.DbParameterGroup(
            self,
            "parameters",
            name=f"{identifier}-pg{ENGINE_MAJOR_VERSION}",
            family=f"postgres{ENGINE_MAJOR_VERSION}",
            description=f"{identifier}: TLS-only connections, slow-query logging",
            parameter=[
                aws.db_parameter_group.DbParameterGroupParameter(name=name, value=value)
                for name, value in (
                    # Plain-text connections are refused; asyncpg and psql negotiate TLS.
                    ("rds.force_ssl", "1"),
                    ("log_min_duration_statement", "1000"),
                    ("log_connections", "1"),
                    ("log_disconnections", "1"),
                )
            ],
        )
        log_groups = [
            log_group(
                self,
                f"log-{log}",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_days=log_retention_days,
                kms_key_arn=kms_key_arn,
            )
            for log in EXPORTED_LOGS
        ]
        # OS metrics (CPU steal, memory, I/O per process), which CloudWatch lacks; with them off, no
        # role exists for RDS to publish them with.
        monitoring_role_arn, monitoring_policy = None, []
        if monitoring_interval:
            monitoring_role = aws.iam_role.IamRole(
                self,
                "monitoring-role",
                name=f"{identifier}-enhanced-monitoring",
                assume_role_policy=iam.service_trust(
                    "monitoring.rds.amazonaws.com",
                    source_account=account.account_id,
                    source_arn=f"arn:aws:rds:{region}:{account.account_id}:db:{identifier}",
                ),
            )
            monitoring_role_arn = monitoring_role.arn
            monitoring_policy = [
                aws.iam_role_policy_attachment.IamRolePolicyAttachment(
                    self,
                    "monitoring-policy",
                    role=monitoring_role.name,
                    policy_arn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                )
            ]
        instance = aws.db_instance.DbInstance(
            self,
            "instance",
            identifier=identifier,
            engine="postgres",
            # Major version only: AWS applies minor versions in the maintenance window.
            engine_version=ENGINE_MAJOR_VERSION,
            auto_minor_version_upgrade=True,
            instance_class=instance_class,
            db_name=db_name,
            username=username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=kms_key_arn,
            parameter_group_name=parameters.name,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group_id],
            port=POSTGRES_PORT,
            publicly_accessible=False,
            storage_type="gp3",
            allocated_storage=allocated_storage,
            max_allocated_storage=max_allocated_storage,
            storage_encrypted=True,
            # AWS's current CA, stated so that no instance keeps an expiring default (rds-ca-2019).
            ca_cert_identifier=CA_CERTIFICATE,
            # An adopted instance keeps the key it was created with (changing it replaces the instance).
            kms_key_id=storage_kms_key_arn or kms_key_arn,
            monitoring_interval=monitoring_interval,
            monitoring_role_arn=monitoring_role_arn,
            # The free 7-day tier of Performance Insights (Database Insights standard mode).
            performance_insights_enabled=True,
            performance_insights_retention_period=7,
            performance_insights_kms_key_id=kms_key_arn,
            multi_az=multi_az,
            backup_retention_period=backup_retention_days,
            backup_window="17:00-18:00",  # 02:00-03:00 KST, the quietest hour of a Korean service
            maintenance_window="sun:18:30-sun:19:30",
            copy_tags_to_snapshot=True,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=list(EXPORTED_LOGS),
            deletion_protection=deletion_protection,
            # Unless told to skip it, a destroy leaves a final snapshot and keeps the automated backups,
            # whatever deletion_protection says (it is lifted to tear down). The snapshot is named after
            # the key that encrypts it: unique per deployment, and it says which key a restore needs.
            skip_final_snapshot=skip_final_snapshot,
            final_snapshot_identifier=None if skip_final_snapshot else f"{identifier}-final-{kms_key_id}",
            delete_automated_backups=skip_final_snapshot,
            depends_on=[*log_groups, *monitoring_policy],
        )
        if not monitoring_interval:
            skip_check(
                instance,
                "CKV_AWS_118",
                "enhanced monitoring is off (db_monitoring_interval 0); the database's alarms read "
                "the free CloudWatch metrics, Performance Insights stays on",
            )
        if not multi_az:
            skip_check(
                instance, "CKV_AWS_157", "single-AZ outside production (db_multi_az); prod turns Multi-AZ on"
            )
        if not deletion_protection:
            skip_check(
                instance,
                "CKV_AWS_293",
                "deletion protection is off outside production so a "
                "dev stack can be destroyed (deletion_protection); prod turns it on",
            )
        self.identifier = instance.identifier
        self.parameter_group_name = parameters.name
        self.address = instance.address
        # try(): an instance imported before RDS manages its password has no secret until the apply
        # that turns it on; its plan shows the output empty (the apply sets it) instead of failing on [0].
        self.master_secret_arn = Token.as_string(Fn.try_([instance.master_user_secret.get(0).secret_arn, ""]))
        self._connect_arn_prefix = (
            f"arn:aws:rds-db:{region}:{account.account_id}:dbuser:{instance.resource_id}"
        )

    def connect_arn(self, user: str) -> str:
        """What ``rds-db:connect`` names to let a role sign in as this database user with IAM."""
        return f"{self._connect_arn_prefix}/{user}"
