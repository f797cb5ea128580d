"""Which changed arguments force a resource's replacement (destroy, then create) in hashicorp/aws 5.100.0.

``terraform providers schema -json`` does not say which attributes force a new resource, so this table
does. It holds every resource type the synthesized stacks use (default and production settings) and
compares top-level arguments only, as the review does:

- ``FORCES_NEW[type]``: arguments any change of which replaces the resource (the provider's
  ``ForceNew``/``RequiresReplace``, on the argument or on every field inside a block argument).
  ``EVERY_ARGUMENT`` stands for all of them: the type has nothing to update in place.
- ``MAY_FORCE_NEW[type]``: arguments that replace it for some changes only: a block where only some
  nested fields force it (``root_block_device.encrypted`` but not ``volume_size``), or a value-dependent
  rule of the provider's ``CustomizeDiff`` (an engine downgrade). The review says "may replace".
- A type missing from ``FORCES_NEW`` is unknown: the review says "replacement not known" rather than
  pretending the change is in place. A known type with an empty set updates every argument in place.

Every entry comes from the provider's own plans (tests/test_review_forces.py plans a resource per entry
against a hand-made prior state that differs in that argument, and asserts the replacement and its
``replace_paths``); conditions cite the provider source that the proving plans exercise. Removing an
Optional+Computed argument (``snapshot_identifier``) keeps its prior value, so a removal may plan no
change at all where a new value would replace: the table describes changed values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EVERY_ARGUMENT = frozenset({"*"})
# Terraform's meta-arguments, cdktf's notes and operation timeouts: changing them never replaces.
NEVER_FORCING = frozenset(
    {
        "//",
        "count",
        "for_each",
        "depends_on",
        "provider",
        "lifecycle",
        "provisioner",
        "connection",
        "timeouts",
    }
)

FORCES_NEW: dict[str, frozenset[str]] = {
    "aws_acm_certificate": frozenset(
        {
            "certificate_authority_arn",
            "domain_name",
            "key_algorithm",
            "subject_alternative_names",
            "validation_method",
            "validation_option",
        }
    ),
    "aws_acm_certificate_validation": EVERY_ARGUMENT,
    "aws_appautoscaling_policy": frozenset(
        {"name", "resource_id", "scalable_dimension", "service_namespace"}
    ),
    "aws_appautoscaling_scheduled_action": frozenset(
        {"name", "resource_id", "scalable_dimension", "service_namespace"}
    ),
    "aws_appautoscaling_target": frozenset({"resource_id", "scalable_dimension", "service_namespace"}),
    # dashboard_body is in place.
    "aws_cloudwatch_dashboard": frozenset({"dashboard_name"}),
    "aws_cloudwatch_log_group": frozenset({"log_group_class", "name", "name_prefix"}),
    "aws_cloudwatch_metric_alarm": frozenset({"alarm_name"}),
    "aws_db_event_subscription": frozenset({"name", "name_prefix"}),
    # identifier is a rename in place; engine_version, instance_class, storage changes are in place too.
    "aws_db_instance": frozenset(
        {
            "availability_zone",
            "backup_target",
            "character_set_name",
            "custom_iam_instance_profile",
            "db_name",
            "engine",
            "kms_key_id",
            "nchar_character_set_name",
            "s3_import",
            "snapshot_identifier",
            "storage_encrypted",
            "timezone",
            "username",
        }
    ),
    "aws_db_parameter_group": frozenset({"description", "family", "name", "name_prefix"}),
    "aws_db_subnet_group": frozenset({"name", "name_prefix"}),
    "aws_default_network_acl": frozenset({"default_network_acl_id"}),
    "aws_default_security_group": frozenset({"vpc_id"}),
    "aws_ecr_lifecycle_policy": EVERY_ARGUMENT,
    "aws_ecr_repository": frozenset({"encryption_configuration", "name"}),
    "aws_ecs_cluster": frozenset({"name"}),
    "aws_ecs_cluster_capacity_providers": frozenset({"cluster_name"}),
    "aws_ecs_service": frozenset(
        {"cluster", "deployment_controller", "iam_role", "launch_type", "name", "scheduling_strategy"}
    ),
    # Task definitions are immutable revisions: only tags, skip_destroy and track_latest update in place.
    "aws_ecs_task_definition": frozenset(
        {
            "container_definitions",
            "cpu",
            "enable_fault_injection",
            "ephemeral_storage",
            "execution_role_arn",
            "family",
            "inference_accelerator",
            "ipc_mode",
            "memory",
            "network_mode",
            "pid_mode",
            "placement_constraints",
            "proxy_configuration",
            "requires_compatibilities",
            "runtime_platform",
            "task_role_arn",
            "volume",
        }
    ),
    # instance and network_interface (the association) are in place.
    "aws_eip": frozenset(
        {"address", "domain", "ipam_pool_id", "network_border_group", "public_ipv4_pool", "vpc"}
    ),
    # transit_encryption_enabled, auth_token, node_type, num_cache_clusters are in place.
    "aws_elasticache_replication_group": frozenset(
        {
            "at_rest_encryption_enabled",
            "data_tiering_enabled",
            "global_replication_group_id",
            "kms_key_id",
            "network_type",
            "port",
            "replication_group_id",
            "security_group_names",
            "snapshot_arns",
            "snapshot_name",
            "subnet_group_name",
        }
    ),
    "aws_elasticache_subnet_group": frozenset({"name"}),
    "aws_elasticache_user": frozenset({"user_id", "user_name"}),
    "aws_elasticache_user_group": frozenset({"user_group_id"}),
    # Everything but tags.
    "aws_flow_log": frozenset(
        {
            "deliver_cross_account_role",
            "destination_options",
            "eni_id",
            "iam_role_arn",
            "log_destination",
            "log_destination_type",
            "log_format",
            "log_group_name",
            "max_aggregation_interval",
            "subnet_id",
            "traffic_type",
            "transit_gateway_attachment_id",
            "transit_gateway_id",
            "vpc_id",
        }
    ),
    "aws_iam_instance_profile": frozenset({"name", "name_prefix", "path"}),
    "aws_iam_openid_connect_provider": frozenset({"url"}),
    "aws_iam_role": frozenset({"name", "name_prefix", "path"}),
    "aws_iam_role_policy": frozenset({"name", "name_prefix", "role"}),
    "aws_iam_role_policy_attachment": EVERY_ARGUMENT,
    "aws_instance": frozenset(
        {
            "ami",
            "associate_public_ip_address",
            "availability_zone",
            "cpu_core_count",
            "cpu_options",
            "cpu_threads_per_core",
            # Its set identity is device_name and snapshot_id, both forcing; the plan does not see a
            # change of its other fields at all (volume_size changed: no-op, measured).
            "ebs_block_device",
            "ebs_optimized",
            "enclave_options",
            "hibernation",
            "host_id",
            "instance_market_options",
            "ipv6_addresses",
            "key_name",
            # id and name force; whether a version change does is decided by reading the instance's
            # tags from the API (its CustomizeDiff called DescribeTags in the offline plan).
            "launch_template",
            "network_interface",
            "placement_group",
            "placement_partition_number",
            "private_ip",
            "security_groups",
            "subnet_id",
            "tenancy",
        }
    ),
    # vpc_id is a detach and attach in place.
    "aws_internet_gateway": frozenset(),
    "aws_kms_alias": frozenset({"name", "name_prefix"}),
    "aws_kms_key": frozenset(
        {"custom_key_store_id", "customer_master_key_spec", "key_usage", "multi_region", "xks_key_id"}
    ),
    "aws_lb": frozenset(
        {"customer_owned_ipv4_pool", "internal", "load_balancer_type", "name", "name_prefix"}
    ),
    # port, protocol, certificate_arn, default_action are in place.
    "aws_lb_listener": frozenset({"load_balancer_arn"}),
    # port, protocol and vpc_id are ignored (no change at all) for target_type "lambda".
    "aws_lb_target_group": frozenset(
        {
            "ip_address_type",
            "name",
            "name_prefix",
            "port",
            "protocol",
            "protocol_version",
            "target_type",
            "vpc_id",
        }
    ),
    "aws_nat_gateway": frozenset(
        {
            "allocation_id",
            "connectivity_type",
            "private_ip",
            "secondary_private_ip_address_count",
            "subnet_id",
        }
    ),
    # The targets (gateway_id, nat_gateway_id, ...) are in place.
    "aws_route": frozenset(
        {
            "destination_cidr_block",
            "destination_ipv6_cidr_block",
            "destination_prefix_list_id",
            "route_table_id",
        }
    ),
    # type, records, ttl, alias and the routing policies are in place.
    "aws_route53_record": frozenset({"name", "zone_id"}),
    "aws_route_table": frozenset({"vpc_id"}),
    # route_table_id is a ReplaceRouteTableAssociation in place.
    "aws_route_table_association": frozenset({"gateway_id", "subnet_id"}),
    "aws_s3_bucket": frozenset({"bucket", "bucket_prefix", "object_lock_enabled"}),
    "aws_s3_bucket_lifecycle_configuration": frozenset({"bucket", "expected_bucket_owner"}),
    "aws_s3_bucket_ownership_controls": frozenset({"bucket"}),
    "aws_s3_bucket_policy": frozenset({"bucket"}),
    "aws_s3_bucket_public_access_block": frozenset({"bucket"}),
    "aws_s3_bucket_server_side_encryption_configuration": frozenset({"bucket", "expected_bucket_owner"}),
    "aws_s3_bucket_versioning": frozenset({"bucket", "expected_bucket_owner"}),
    # ingress and egress (inline rules) are in place.
    "aws_security_group": frozenset({"description", "name", "name_prefix", "vpc_id"}),
    "aws_sns_topic": frozenset({"fifo_topic", "name", "name_prefix"}),
    "aws_sns_topic_subscription": frozenset({"endpoint", "protocol", "topic_arn"}),
    "aws_ssm_document": frozenset({"name"}),
    # type (String to SecureString) is in place.
    "aws_ssm_parameter": frozenset({"data_type", "name"}),
    "aws_subnet": frozenset(
        {"availability_zone", "availability_zone_id", "cidr_block", "ipv6_native", "outpost_arn", "vpc_id"}
    ),
    "aws_vpc": frozenset({"cidr_block", "ipv4_ipam_pool_id", "ipv4_netmask_length"}),
    # ip_protocol, ports, CIDRs and the referenced group are modified in place.
    "aws_vpc_security_group_egress_rule": frozenset({"security_group_id"}),
    "aws_vpc_security_group_ingress_rule": frozenset({"security_group_id"}),
    "aws_wafv2_web_acl": frozenset({"name", "name_prefix", "scope"}),
    "aws_wafv2_web_acl_association": EVERY_ARGUMENT,
    "aws_wafv2_web_acl_logging_configuration": frozenset({"log_destination_configs", "resource_arn"}),
}

MAY_FORCE_NEW: dict[str, frozenset[str]] = {
    # Only the removal of the whole block forces it; a change of its fields plans an update.
    "aws_db_instance": frozenset({"restore_to_point_in_time"}),
    # In place only with force_new_deployment = true (internal/service/ecs/service.go,
    # capacityProviderStrategyCustomizeDiff).
    "aws_ecs_service": frozenset({"capacity_provider_strategy"}),
    # engine: redis to valkey is in place, any other change replaces; engine_version: a downgrade
    # replaces (internal/service/elasticache/engine_version.go, customizeDiffEngine*ForceNewOnDowngrade).
    "aws_elasticache_replication_group": frozenset({"engine", "engine_version"}),
    # user_data(_base64) replaces when user_data_replace_on_change is true (the EC2 host sets it);
    # root_block_device: encrypted and kms_key_id replace, volume_size/volume_type/tags are in place.
    "aws_instance": frozenset({"root_block_device", "user_data", "user_data_base64"}),
    # Network load balancers only (internal/service/elbv2/load_balancer.go, customizeDiffLoadBalancerNLB):
    # a subnet or subnet mapping removed, or security groups added where there were none (or all removed).
    "aws_lb": frozenset({"security_groups", "subnet_mapping", "subnets"}),
    # object_lock_configuration.object_lock_enabled replaces; its rule is in place.
    "aws_s3_bucket": frozenset({"object_lock_configuration"}),
    # To "dedicated" replaces; back to "default" is in place.
    "aws_vpc": frozenset({"instance_tenancy"}),
}


# Sometimes-forcing arguments that another argument of the same resource decides: replaced when it has
# this value, in place otherwise (both proven by the MAY_FORCE_NEW cases in the test).
DECIDED_BY: dict[tuple[str, str], tuple[str, object]] = {
    ("aws_instance", "user_data"): ("user_data_replace_on_change", True),
    ("aws_instance", "user_data_base64"): ("user_data_replace_on_change", True),
}


@dataclass(frozen=True)
class Verdict:
    """What changing some arguments of one resource does, as far as the table knows."""

    forcing: tuple[str, ...] = ()  # changed arguments that replace it whatever the new value
    maybe: tuple[str, ...] = ()  # changed arguments that replace it for some changes only
    unknown_type: bool = False  # the type is not in the table: neither replacement nor update is known


def forced_by(type_: str, changed: Iterable[str], body: Mapping[str, Any] | None = None) -> Verdict:
    """The verdict for changing the top-level arguments ``changed`` of a resource of type ``type_``;
    ``body``, the resource's new arguments, settles what ``DECIDED_BY`` lists."""
    if type_ not in FORCES_NEW:
        return Verdict(unknown_type=True)
    names = sorted(set(changed) - NEVER_FORCING)
    definite = FORCES_NEW[type_]
    maybe = [name for name in names if name in MAY_FORCE_NEW.get(type_, frozenset())]
    decided = {
        name: body.get(DECIDED_BY[type_, name][0]) == DECIDED_BY[type_, name][1]
        for name in maybe
        if body is not None and (type_, name) in DECIDED_BY
    }
    return Verdict(
        forcing=tuple(
            name for name in names if definite == EVERY_ARGUMENT or name in definite or decided.get(name)
        ),
        maybe=tuple(name for name in maybe if name not in decided),
    )
