"""PostgreSQL and Redis: private, encrypted, authenticated, and sized by settings."""

from __future__ import annotations

from modules.names import DATA_STACK
from tests.conftest import PRODUCTION
from tools.tfjson import Stack, ref


def private_subnet_refs(stack: Stack) -> list[str]:
    return [
        ref(f"aws_subnet.{name}")
        for name, body in sorted(stack.resources("aws_subnet").items())
        if body["tags"]["Tier"] == "private"
    ]


def group_ref(stack: Stack, name: str) -> str:
    (address,) = [a for a, body in stack.resources("aws_security_group").items() if body["name"] == name]
    return ref(f"aws_security_group.{address}")


def test_database_is_private_encrypted_postgres_15_with_managed_credentials(default, production):
    stack = default[DATA_STACK]
    db = stack.resource("aws_db_instance")
    assert (db["identifier"], db["engine"], db["engine_version"]) == ("homu-db", "postgres", "15")
    assert (db["instance_class"], db["db_name"], db["username"], db["port"]) == (
        "db.t3.micro",
        "homu_db",
        "homu_admin",  # not the engine's default "postgres", which credential stuffing tries first
        5432,
    )
    assert db["publicly_accessible"] is False and db["storage_encrypted"] is True
    assert db["ca_cert_identifier"] == "rds-ca-rsa2048-g1"
    # Production keeps the non-default master user too (only db_username changes it).
    assert production[DATA_STACK].resource("aws_db_instance")["username"] == "homu_admin"
    assert (db["storage_type"], db["allocated_storage"], db["max_allocated_storage"]) == ("gp3", 20, 100)
    assert db["backup_retention_period"] == 7 and db["copy_tags_to_snapshot"] is True
    # RDS generates, stores and rotates the password: none is given here.
    assert db["manage_master_user_password"] is True
    assert not {"password", "password_wo"} & set(db)
    assert db["vpc_security_group_ids"] == [group_ref(stack, "homu-db-sg")]
    subnets = stack.resource("aws_db_subnet_group")
    assert sorted(subnets["subnet_ids"]) == private_subnet_refs(stack)
    assert db["db_subnet_group_name"] == ref(stack.address("aws_db_subnet_group", subnets), "name")


def test_parameter_group_forces_tls(default):
    stack = default[DATA_STACK]
    group = stack.resource("aws_db_parameter_group")
    assert group["family"] == "postgres15"
    assert {"name": "rds.force_ssl", "value": "1"} in group["parameter"]
    assert stack.resource("aws_db_instance")["parameter_group_name"] == ref(
        stack.address("aws_db_parameter_group", group), "name"
    )


def test_exported_database_logs_have_a_retention(default):
    stack = default[DATA_STACK]
    db = stack.resource("aws_db_instance")
    assert db["enabled_cloudwatch_logs_exports"] == ["postgresql", "upgrade"]
    for log in ("postgresql", "upgrade"):
        group = stack.named("aws_cloudwatch_log_group", f"database/log-{log}")
        assert group["name"] == f"/aws/rds/instance/homu-db/{log}" and group["retention_in_days"] == 30
        # Created before the instance, or RDS creates it first with no retention at all.
        assert stack.address("aws_cloudwatch_log_group", group) in db["depends_on"]


def test_dev_database_is_destroyable_and_production_is_protected(default, production):
    dev, prod = (
        default[DATA_STACK].resource("aws_db_instance"),
        production[DATA_STACK].resource("aws_db_instance"),
    )
    assert (dev["multi_az"], dev["deletion_protection"], dev["skip_final_snapshot"]) == (False, False, True)
    assert "final_snapshot_identifier" not in dev and dev["delete_automated_backups"] is True
    assert (prod["multi_az"], prod["deletion_protection"], prod["skip_final_snapshot"]) == (True, True, False)
    # Unique per deployment: named after the key that encrypts it (a new deployment has a new key).
    key = production[DATA_STACK].named("aws_kms_key", "encryption/key")
    key_id = ref(production[DATA_STACK].address("aws_kms_key", key), "key_id")
    assert prod["final_snapshot_identifier"] == f"homu-db-final-{key_id}"
    assert prod["delete_automated_backups"] is False
    assert (prod["instance_class"], prod["max_allocated_storage"], prod["backup_retention_period"]) == (
        "db.t3.small",
        200,
        14,
    )


def test_the_production_teardown_configuration_still_keeps_the_data(synth):
    """What the documented teardown applies first (deletion protection off) still leaves a final
    snapshot, keeps the automated backups and every key's 30-day window."""
    unprotected = synth(**{**PRODUCTION, "deletion_protection": False})
    db = unprotected[DATA_STACK].resource("aws_db_instance")
    assert (db["deletion_protection"], db["skip_final_snapshot"], db["delete_automated_backups"]) == (
        False,
        False,
        False,
    )
    for stack in unprotected.stacks.values():
        for key in stack.resources("aws_kms_key").values():
            assert key["deletion_window_in_days"] == 30, stack.name


def test_redis_is_private_encrypted_and_authenticated(default):
    stack = default[DATA_STACK]
    group = stack.resource("aws_elasticache_replication_group")
    assert (group["replication_group_id"], group["engine"], group["engine_version"]) == (
        "homu-redis",
        "redis",
        "7.1",
    )
    assert (group["node_type"], group["port"], group["num_cache_clusters"]) == ("cache.t3.micro", 6379, 1)
    assert group["at_rest_encryption_enabled"] == "true" and group["transit_encryption_enabled"] is True
    assert "auth_token" not in group  # no password: IAM sign-in (below)
    assert group["security_group_ids"] == [group_ref(stack, "homu-redis-sg")]
    assert sorted(stack.resource("aws_elasticache_subnet_group")["subnet_ids"]) == private_subnet_refs(stack)
    assert "cluster_mode" not in group or group["cluster_mode"] == "disabled"


def test_redis_admits_only_its_iam_user_and_the_default_user_is_off(default):
    stack = default[DATA_STACK]
    group = stack.resource("aws_elasticache_replication_group")
    app = stack.named("aws_elasticache_user", "cache/app-user")
    default_user = stack.named("aws_elasticache_user", "cache/default-user")
    # AWS requires an IAM user's name to equal its id; the token names it.
    assert app["user_id"] == app["user_name"] == "homu-redis-app"
    assert app["authentication_mode"] == {"type": "iam"} and "passwords" not in app
    assert app["access_string"] == "on ~* &* +@all -@dangerous"
    # Every user group must hold a "default" user: this one can sign in as nobody.
    assert default_user["user_name"] == "default" and default_user["access_string"] == "off -@all"
    assert default_user["no_password_required"] is True and "authentication_mode" not in default_user
    users = stack.resource("aws_elasticache_user_group")
    assert users["user_group_id"] == "homu-redis-users" and users["engine"] == "REDIS"
    assert users["user_ids"] == [
        ref(stack.address("aws_elasticache_user", default_user), "user_id"),
        ref(stack.address("aws_elasticache_user", app), "user_id"),
    ]
    assert group["user_group_ids"] == [
        ref(stack.address("aws_elasticache_user_group", users), "user_group_id")
    ]
    assert group["transit_encryption_enabled"] is True  # IAM sign-in needs TLS


def test_production_redis_has_a_replica_with_automatic_failover(default, production):
    dev = default[DATA_STACK].resource("aws_elasticache_replication_group")
    prod = production[DATA_STACK].resource("aws_elasticache_replication_group")
    assert (dev["automatic_failover_enabled"], dev["multi_az_enabled"]) == (False, False)
    assert prod["num_cache_clusters"] == 2
    assert (prod["automatic_failover_enabled"], prod["multi_az_enabled"]) == (True, True)


def test_sizes_come_from_settings(synth):
    stack = synth(
        db_instance_class="db.t4g.small",
        db_allocated_storage=50,
        db_max_allocated_storage=500,
        redis_node_type="cache.t4g.small",
        redis_num_cache_clusters=3,
    )[DATA_STACK]
    db, cache = stack.resource("aws_db_instance"), stack.resource("aws_elasticache_replication_group")
    assert (db["instance_class"], db["allocated_storage"], db["max_allocated_storage"]) == (
        "db.t4g.small",
        50,
        500,
    )
    assert (cache["node_type"], cache["num_cache_clusters"]) == ("cache.t4g.small", 3)
