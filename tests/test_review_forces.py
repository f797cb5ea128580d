"""tools.review.forces proven against hashicorp/aws 5.100.0 itself: one offline plan.

The configuration holds one resource per case: a minimal valid body of its type (``BASES``), changed
by the case. A hand-made prior state (format 4, each instance at the schema version that
``terraform providers schema -json`` reports, so no state upgrade runs) holds the same arguments, but
another value of the argument under test. ``plan -refresh=false`` reads nothing from AWS, and the
provider runs with dummy credentials, no account lookup and every request sent to a closed loopback
proxy: a ``CustomizeDiff`` that needs the API fails the plan instead of reaching out.
``terraform show -json`` then gives each case's ``actions`` and ``replace_paths``:

- every ``FORCES_NEW`` entry (``EVERY_ARGUMENT`` read from the schema) replaces, through its paths only;
- every ``MAY_FORCE_NEW`` entry has a change that replaces and one that updates in place (``MAYBE``);
- the ``IN_PLACE`` cases update, changing the argument: the known in-place set, and the proof that
  the plan can say "update".

An entry without its case must be in ``UNPROVEN`` with the reason, so none goes unproven silently.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tools.rehearsal.terraform import emulator_environment
from tools.review.forces import EVERY_ARGUMENT, FORCES_NEW, MAY_FORCE_NEW, NEVER_FORCING, Verdict, forced_by

# The constants and tables below are formatted by hand, a type or case a line where it fits: ruff
# would give every key its own line and triple their length.
# fmt: off
PROVIDER = "registry.terraform.io/hashicorp/aws"
ACCOUNT = "123456789012"
KEY = "11111111-2222-3333-4444-555555555555"
KEY_ARN = f"arn:aws:kms:ap-northeast-2:{ACCOUNT}:key/{KEY}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/r"
TOPIC_ARN = f"arn:aws:sns:ap-northeast-2:{ACCOUNT}:t"
LOG_ARN = f"arn:aws:logs:ap-northeast-2:{ACCOUNT}:log-group:aws-waf-logs-w"
LB_ARN = f"arn:aws:elasticloadbalancing:ap-northeast-2:{ACCOUNT}:loadbalancer/app/lb/0123456789abcdef"
WAF_ARN = f"arn:aws:wafv2:ap-northeast-2:{ACCOUNT}:regional/webacl/w/{KEY}"
VPC, SG, SG2 = "vpc-0123456789abcdef0", "sg-0123456789abcdef0", "sg-0123456789abcdef1"
SUBNET, SUBNET2 = "subnet-0123456789abcdef0", "subnet-0123456789abcdef1"
ENI, RTB = "eni-0123456789abcdef0", "rtb-0123456789abcdef0"
POLICY = json.dumps({"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
TRUST = POLICY.replace('"s3:*"', '"sts:AssumeRole"').replace(
    '"Resource": "*"', '"Principal": {"Service": "ec2.amazonaws.com"}')
SERVICE = {"resource_id": "service/c/s", "scalable_dimension": "ecs:service:DesiredCount",
           "service_namespace": "ecs"}
SG_RULE = {"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"], "description": "",
           "self": False, "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": []}
STRATEGY = {"capacity_provider": "FARGATE", "weight": 1, "base": 0}
NLB = {"load_balancer_type": "network", "security_groups": None}
CACHE, INGRESS = "aws_elasticache_replication_group", "aws_vpc_security_group_ingress_rule"

# A valid body per type. Arguments that force replacement and have a provider default (path,
# key_usage, ...) are written out: a prior state without them would plan their default, a replacement.
BASES: dict[str, dict[str, Any]] = {
    "aws_acm_certificate": {"domain_name": "a.example.com", "validation_method": "DNS",
                            "subject_alternative_names": ["a.example.com"]},
    "aws_acm_certificate_validation": {
        "certificate_arn": f"arn:aws:acm:ap-northeast-2:{ACCOUNT}:certificate/c",
        "validation_record_fqdns": ["_x.a.example.com"]},
    "aws_appautoscaling_policy": {
        "name": "p", "policy_type": "TargetTrackingScaling", **SERVICE,
        "target_tracking_scaling_policy_configuration": [
            {"target_value": 70, "predefined_metric_specification": [
                {"predefined_metric_type": "ECSServiceAverageCPUUtilization"}]}]},
    "aws_appautoscaling_scheduled_action": {
        "name": "a", **SERVICE, "schedule": "cron(0 20 ? * MON-FRI *)",
        "scalable_target_action": [{"min_capacity": "1", "max_capacity": "2"}]},
    "aws_appautoscaling_target": {"max_capacity": 6, "min_capacity": 2, **SERVICE},
    "aws_cloudwatch_dashboard": {"dashboard_name": "d", "dashboard_body": json.dumps({"widgets": []})},
    "aws_cloudwatch_log_group": {"name": "g"},
    "aws_cloudwatch_metric_alarm": {
        "alarm_name": "a", "comparison_operator": "GreaterThanThreshold", "evaluation_periods": 2,
        "metric_name": "CPUUtilization", "namespace": "AWS/EC2", "period": 300, "statistic": "Average",
        "threshold": 80},
    "aws_db_event_subscription": {"name": "s", "sns_topic": TOPIC_ARN},
    "aws_db_instance": {
        "identifier": "db", "engine": "postgres", "instance_class": "db.t3.small", "allocated_storage": 20,
        "username": "u", "password": "p12345678"},
    "aws_db_parameter_group": {"name": "pg", "family": "postgres15", "description": "Managed by Terraform"},
    "aws_db_subnet_group": {"name": "sn", "subnet_ids": [SUBNET]},
    "aws_default_network_acl": {"default_network_acl_id": "acl-0123456789abcdef0"},
    "aws_default_security_group": {"vpc_id": VPC},
    "aws_ecr_lifecycle_policy": {"repository": "r", "policy": json.dumps({"rules": []})},
    "aws_ecr_repository": {"name": "r"},
    "aws_ecs_cluster": {"name": "c"},
    "aws_ecs_cluster_capacity_providers": {"cluster_name": "c"},
    "aws_ecs_service": {
        "name": "s", "cluster": f"arn:aws:ecs:ap-northeast-2:{ACCOUNT}:cluster/c", "task_definition": "t:1",
        "desired_count": 1, "scheduling_strategy": "REPLICA"},
    "aws_ecs_task_definition": {
        "family": "t", "container_definitions": json.dumps([{"name": "c", "image": "i", "essential": True}])},
    "aws_eip": {"domain": "vpc"},
    CACHE: {
        "replication_group_id": "rg", "description": "d", "engine": "redis", "engine_version": "7.1",
        "node_type": "cache.t3.micro", "num_cache_clusters": 2, "port": 6379},
    "aws_elasticache_subnet_group": {"name": "sn", "subnet_ids": [SUBNET]},
    "aws_elasticache_user": {
        "user_id": "u", "user_name": "u", "engine": "REDIS", "access_string": "on ~* +@all",
        "authentication_mode": [{"type": "iam"}]},
    "aws_elasticache_user_group": {"user_group_id": "g", "engine": "REDIS", "user_ids": ["default"]},
    "aws_flow_log": {
        "vpc_id": VPC, "traffic_type": "ALL", "log_destination": LOG_ARN, "iam_role_arn": ROLE_ARN,
        "log_destination_type": "cloud-watch-logs", "max_aggregation_interval": 600},
    "aws_iam_instance_profile": {"name": "p", "role": "r", "path": "/"},
    "aws_iam_openid_connect_provider": {
        "url": "https://token.actions.githubusercontent.com", "client_id_list": ["sts.amazonaws.com"]},
    "aws_iam_role": {"name": "r", "assume_role_policy": TRUST, "path": "/"},
    "aws_iam_role_policy": {"name": "p", "role": "r", "policy": POLICY},
    "aws_iam_role_policy_attachment": {"role": "r", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    "aws_instance": {"ami": "ami-0123456789abcdef0", "instance_type": "t3.small", "subnet_id": SUBNET},
    "aws_internet_gateway": {"vpc_id": VPC},
    "aws_kms_alias": {"name": "alias/k", "target_key_id": KEY},
    "aws_kms_key": {
        "description": "k", "key_usage": "ENCRYPT_DECRYPT", "customer_master_key_spec": "SYMMETRIC_DEFAULT"},
    "aws_lb": {"name": "lb", "subnets": [SUBNET, SUBNET2], "security_groups": [SG],
               "load_balancer_type": "application"},
    "aws_lb_listener": {"load_balancer_arn": LB_ARN, "port": 80, "protocol": "HTTP", "default_action": [
        {"type": "fixed-response", "fixed_response": [{"content_type": "text/plain", "status_code": "200"}]},
    ]},
    "aws_lb_target_group": {
        "name": "tg", "port": 8000, "protocol": "HTTP", "target_type": "ip", "vpc_id": VPC},
    "aws_nat_gateway": {
        "subnet_id": SUBNET, "allocation_id": "eipalloc-0123456789abcdef0", "connectivity_type": "public"},
    "aws_route": {
        "route_table_id": RTB, "destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-0123456789abcdef0"},
    "aws_route53_record": {
        "zone_id": "Z0123456789ABCDEFGHIJ", "name": "a.example.com", "type": "A", "ttl": 300,
        "records": ["192.0.2.1"]},
    "aws_route_table": {"vpc_id": VPC},
    "aws_route_table_association": {"route_table_id": RTB, "subnet_id": SUBNET},
    "aws_s3_bucket": {"bucket": "b-homu"},
    "aws_s3_bucket_lifecycle_configuration": {"bucket": "b", "rule": [
        {"id": "r", "status": "Enabled", "filter": [{}], "expiration": [{"days": 30}]}]},
    "aws_s3_bucket_ownership_controls": {"bucket": "b",
                                         "rule": [{"object_ownership": "BucketOwnerEnforced"}]},
    "aws_s3_bucket_policy": {"bucket": "b", "policy": POLICY},
    "aws_s3_bucket_public_access_block": {"bucket": "b"},
    "aws_s3_bucket_server_side_encryption_configuration": {"bucket": "b", "rule": [
        {"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]},
    "aws_s3_bucket_versioning": {"bucket": "b", "versioning_configuration": [{"status": "Enabled"}]},
    "aws_security_group": {"name": "sg", "description": "d", "vpc_id": VPC},
    "aws_sns_topic": {"name": "t", "fifo_topic": False},
    "aws_sns_topic_subscription": {"topic_arn": TOPIC_ARN, "protocol": "email", "endpoint": "o@example.com"},
    "aws_ssm_document": {
        "name": "doc", "document_type": "Command", "document_format": "JSON",
        "content": json.dumps({"schemaVersion": "2.2", "mainSteps": []})},
    "aws_ssm_parameter": {"name": "/p", "type": "String", "insecure_value": "v"},
    "aws_subnet": {"vpc_id": VPC, "cidr_block": "10.0.1.0/24", "availability_zone": "ap-northeast-2a",
                   "ipv6_native": False},
    "aws_vpc": {"cidr_block": "10.0.0.0/16", "instance_tenancy": "default"},
    "aws_vpc_security_group_egress_rule": {"security_group_id": SG, "ip_protocol": "tcp", "from_port": 80,
                                           "to_port": 80, "cidr_ipv4": "0.0.0.0/0"},
    "aws_wafv2_web_acl": {"name": "w", "scope": "REGIONAL", "default_action": [{"allow": [{}]}],
        "visibility_config": [
            {"cloudwatch_metrics_enabled": True, "metric_name": "w", "sampled_requests_enabled": True}]},
    "aws_wafv2_web_acl_association": {"resource_arn": LB_ARN, "web_acl_arn": WAF_ARN},
    "aws_wafv2_web_acl_logging_configuration": {"resource_arn": WAF_ARN,
                                                "log_destination_configs": [LOG_ARN]},
}
BASES[INGRESS] = BASES["aws_vpc_security_group_egress_rule"]

MADE_UP: Any = object()  # a prior value made up from the schema, different from the configuration's


@dataclass(frozen=True)
class Case:
    """A resource of the plan: its type's base changed by ``config`` (``None`` removes an argument),
    and a prior state that holds ``prior`` as the value of ``argument``, and ``stored`` besides (what
    the provider stores for arguments the configuration may not set)."""

    type: str
    argument: str
    config: dict[str, Any] = field(default_factory=dict)
    prior: Any = MADE_UP
    stored: dict[str, Any] = field(default_factory=dict)


def case(type_: str, argument: str, prior: Any = MADE_UP, stored: dict | None = None, **config: Any) -> Case:
    return Case(type_, argument, config, prior, stored or {})


# Definite entries whose argument the base does not set and the plan would not see removed (it is
# Optional+Computed, or a computed block): the value to configure, or a prior value to compare with.
# Every other FORCES_NEW entry gets a case made up from the schema.
FORCING = [
    case("aws_acm_certificate", "key_algorithm", key_algorithm="EC_prime256v1"),
    case("aws_cloudwatch_log_group", "log_group_class", log_group_class="INFREQUENT_ACCESS"),
    case("aws_cloudwatch_log_group", "name_prefix", name_prefix="g-", name=None),
    case("aws_db_event_subscription", "name_prefix", name_prefix="s-", name=None),
    case("aws_db_instance", "availability_zone", availability_zone="ap-northeast-2a"),
    case("aws_db_instance", "backup_target", backup_target="region"),
    case("aws_db_instance", "character_set_name", character_set_name="AL32UTF8"),
    case("aws_db_instance", "db_name", db_name="homu"),
    case("aws_db_instance", "kms_key_id", kms_key_id=KEY_ARN, storage_encrypted=True),
    case("aws_db_instance", "nchar_character_set_name", nchar_character_set_name="AL16UTF16"),
    case("aws_db_instance", "snapshot_identifier", snapshot_identifier="snap"),
    case("aws_db_instance", "timezone", timezone="UTC"),
    case("aws_db_parameter_group", "name_prefix", name_prefix="pg-", name=None),
    case("aws_db_subnet_group", "name_prefix", name_prefix="sn-", name=None),
    case("aws_ecs_service", "iam_role", iam_role=ROLE_ARN),
    case("aws_ecs_service", "launch_type", launch_type="FARGATE"),
    case("aws_ecs_task_definition", "enable_fault_injection", enable_fault_injection=True),
    case("aws_ecs_task_definition", "network_mode", network_mode="awsvpc"),
    case("aws_eip", "ipam_pool_id", ipam_pool_id="ipam-pool-0123456789abcdef0"),
    case("aws_eip", "network_border_group", network_border_group="ap-northeast-2"),
    case("aws_eip", "public_ipv4_pool", public_ipv4_pool="amazon"),
    case("aws_eip", "vpc", vpc=True, domain=None),
    case(CACHE, "at_rest_encryption_enabled", at_rest_encryption_enabled="true"),
    case(CACHE, "data_tiering_enabled", data_tiering_enabled=True, node_type="cache.r6gd.xlarge"),
    # A member of a global group takes its engine from the group: engine is stored, not configured.
    case(CACHE, "global_replication_group_id", stored={"engine": "redis"},
         global_replication_group_id="g", engine=None, engine_version=None, node_type=None, port=None),
    case(CACHE, "network_type", network_type="dual_stack"),
    case(CACHE, "security_group_names", security_group_names=["n"]),
    case(CACHE, "subnet_group_name", subnet_group_name="sn"),
    case("aws_flow_log", "log_format", log_format="$${version} $${srcaddr}"),  # $$: no interpolation
    case("aws_flow_log", "log_group_name", log_group_name="g", log_destination=None),
    case("aws_iam_instance_profile", "name_prefix", name_prefix="p-", name=None),
    case("aws_iam_role", "name_prefix", name_prefix="r-", name=None),
    case("aws_iam_role_policy", "name_prefix", name_prefix="p-", name=None),
    case("aws_instance", "associate_public_ip_address", associate_public_ip_address=True),
    case("aws_instance", "availability_zone", availability_zone="ap-northeast-2a"),
    case("aws_instance", "cpu_core_count", cpu_core_count=2),
    case("aws_instance", "cpu_options", cpu_options=[{"core_count": 2, "threads_per_core": 1}]),
    case("aws_instance", "cpu_threads_per_core", cpu_threads_per_core=1),
    case("aws_instance", "ebs_block_device", ebs_block_device=[{"device_name": "/dev/sdf"}]),
    case("aws_instance", "ebs_optimized", ebs_optimized=True),
    case("aws_instance", "enclave_options", enclave_options=[{"enabled": True}]),
    case("aws_instance", "host_id", host_id="h-0123456789abcdef0", tenancy="host"),
    case("aws_instance", "instance_market_options",
         instance_market_options=[{"market_type": "spot", "spot_options": [{"max_price": "0.1"}]}]),
    case("aws_instance", "ipv6_addresses", ipv6_addresses=["2001:db8::1"]),
    case("aws_instance", "key_name", key_name="k"),
    # Only the id differs: a version change would make the provider read the instance's tags.
    case("aws_instance", "launch_template", [{"id": "lt-0123456789abcdef9", "version": "1"}],
         launch_template=[{"id": "lt-0123456789abcdef0", "version": "1"}]),
    case("aws_instance", "network_interface", subnet_id=None,
         network_interface=[{"device_index": 0, "network_interface_id": ENI}]),
    case("aws_instance", "placement_group", placement_group="pg"),
    case("aws_instance", "placement_partition_number", placement_partition_number=1),
    case("aws_instance", "private_ip", private_ip="10.0.1.10"),
    case("aws_instance", "security_groups", security_groups=["sg"]),
    case("aws_instance", "tenancy", tenancy="dedicated"),
    case("aws_kms_alias", "name_prefix", name_prefix="alias/k-", name=None),
    case("aws_kms_key", "multi_region", multi_region=True),
    case("aws_lb", "internal", internal=True),
    case("aws_lb", "name_prefix", name_prefix="lb-", name=None),
    case("aws_lb_target_group", "ip_address_type", ip_address_type="ipv4"),
    case("aws_lb_target_group", "name_prefix", name_prefix="tg-", name=None),
    case("aws_lb_target_group", "protocol_version", protocol_version="HTTP2"),
    case("aws_nat_gateway", "private_ip", private_ip="10.0.1.5"),
    case("aws_nat_gateway", "secondary_private_ip_address_count", secondary_private_ip_address_count=1,
         connectivity_type="private", allocation_id=None),
    case("aws_s3_bucket", "bucket_prefix", bucket_prefix="b-", bucket=None),
    case("aws_s3_bucket", "object_lock_enabled", object_lock_enabled=True),
    case("aws_s3_bucket_lifecycle_configuration", "expected_bucket_owner", expected_bucket_owner=ACCOUNT),
    case("aws_security_group", "name_prefix", name_prefix="s-", name=None),
    case("aws_sns_topic", "name_prefix", name_prefix="t-", name=None),
    case("aws_ssm_parameter", "data_type", data_type="text"),
    case("aws_subnet", "availability_zone_id", availability_zone_id="apne2-az1", availability_zone=None),
    case("aws_wafv2_web_acl", "name_prefix", name_prefix="w-", name=None),
]

# (a change that replaces, a change that updates in place) per MAY_FORCE_NEW entry.
MAYBE = {
    ("aws_db_instance", "restore_to_point_in_time"): (  # removed / a field changed
        case("aws_db_instance", "restore_to_point_in_time", [{"source_db_instance_identifier": "src"}]),
        case("aws_db_instance", "restore_to_point_in_time", [{"source_db_instance_identifier": "old"}],
             restore_to_point_in_time=[{"source_db_instance_identifier": "src"}])),
    ("aws_ecs_service", "capacity_provider_strategy"): (  # without / with force_new_deployment
        case("aws_ecs_service", "capacity_provider_strategy", [{**STRATEGY, "weight": 2}],
             capacity_provider_strategy=[STRATEGY]),
        case("aws_ecs_service", "capacity_provider_strategy", [{**STRATEGY, "weight": 2}],
             capacity_provider_strategy=[STRATEGY], force_new_deployment=True)),
    (CACHE, "engine"): (  # valkey to redis / redis to valkey
        case(CACHE, "engine", "valkey"),
        case(CACHE, "engine", "redis", engine="valkey", engine_version="7.2")),
    (CACHE, "engine_version"): (  # down / up
        case(CACHE, "engine_version", "7.2"),
        case(CACHE, "engine_version", "7.0")),
    ("aws_instance", "root_block_device"): (  # encrypted / volume_size
        case("aws_instance", "root_block_device", [{"volume_size": 20}],
             root_block_device=[{"volume_size": 20, "encrypted": True}]),
        case("aws_instance", "root_block_device", [{"volume_size": 9}],
             root_block_device=[{"volume_size": 20}])),
    ("aws_instance", "user_data"): (  # with / without user_data_replace_on_change
        case("aws_instance", "user_data", "old", user_data="#!/bin/sh", user_data_replace_on_change=True),
        case("aws_instance", "user_data", "old", user_data="#!/bin/sh")),
    ("aws_instance", "user_data_base64"): (
        case("aws_instance", "user_data_base64", "b2xk", user_data_base64="IyEvYmluL3No",
             user_data_replace_on_change=True),
        case("aws_instance", "user_data_base64", "b2xk", user_data_base64="IyEvYmluL3No")),
    ("aws_lb", "security_groups"): (  # a network load balancer's first / an application one's changed
        case("aws_lb", "security_groups", [], load_balancer_type="network"),
        case("aws_lb", "security_groups", [SG2])),
    ("aws_lb", "subnet_mapping"): (  # one removed from a network / one added to an application one
        case("aws_lb", "subnet_mapping", [{"subnet_id": SUBNET}, {"subnet_id": SUBNET2}], **NLB, subnets=None,
             subnet_mapping=[{"subnet_id": SUBNET}]),
        case("aws_lb", "subnet_mapping", [{"subnet_id": SUBNET}], subnets=None,
             subnet_mapping=[{"subnet_id": SUBNET}, {"subnet_id": SUBNET2}])),
    ("aws_lb", "subnets"): (  # one removed from a network / from an application load balancer
        case("aws_lb", "subnets", [SUBNET, SUBNET2], **NLB, subnets=[SUBNET]),
        case("aws_lb", "subnets", [SUBNET, SUBNET2], subnets=[SUBNET])),
    ("aws_s3_bucket", "object_lock_configuration"): (  # object_lock_enabled / rule
        case("aws_s3_bucket", "object_lock_configuration", [{"object_lock_enabled": "old"}],
             object_lock_configuration=[{"object_lock_enabled": "Enabled"}]),
        case("aws_s3_bucket", "object_lock_configuration", [{"object_lock_enabled": "Enabled", "rule": [
            {"default_retention": [{"mode": "GOVERNANCE", "days": 1}]}]}],
             object_lock_configuration=[{"object_lock_enabled": "Enabled"}])),
    ("aws_vpc", "instance_tenancy"): (  # to dedicated / back to default
        case("aws_vpc", "instance_tenancy", "default", instance_tenancy="dedicated"),
        case("aws_vpc", "instance_tenancy", "dedicated")),
}

# Known in-place changes of the arguments a review meets most.
IN_PLACE = [
    case("aws_db_instance", "instance_class"),
    case("aws_db_instance", "allocated_storage"),
    case("aws_db_instance", "identifier"),  # a rename
    case("aws_db_instance", "engine_version", "14", engine_version="15"),
    case("aws_db_instance", "multi_az", False, multi_az=True),
    case("aws_db_instance", "backup_retention_period", 7, backup_retention_period=14),
    case("aws_db_instance", "db_subnet_group_name", "old", db_subnet_group_name="sn"),
    case(CACHE, "node_type"),
    case(CACHE, "num_cache_clusters"),
    case(CACHE, "transit_encryption_enabled", False, transit_encryption_enabled=True),
    case(CACHE, "auth_token", "old-token-0123456789", auth_token="new-token-012345678"),
    case("aws_lb_target_group", "health_check", [{"path": "/old", "matcher": "200"}],
         health_check=[{"path": "/health", "matcher": "200"}]),
    case(INGRESS, "from_port"),
    case(INGRESS, "ip_protocol", "udp"),
    case(INGRESS, "cidr_ipv4"),
    case(INGRESS, "referenced_security_group_id", SG2, cidr_ipv4=None, referenced_security_group_id=SG),
    case("aws_security_group", "ingress", [{**SG_RULE, "from_port": 1}], ingress=[SG_RULE]),
    case("aws_ecs_service", "desired_count"),
    case("aws_ecs_service", "task_definition", "t:0"),
    case("aws_instance", "instance_type"),
    case("aws_instance", "vpc_security_group_ids", [SG2], vpc_security_group_ids=[SG]),
    case("aws_internet_gateway", "vpc_id"),
    case("aws_lb_listener", "port"),
    case("aws_route53_record", "type", "A", type="AAAA", records=["2001:db8::1"]),
    case("aws_kms_key", "policy", "old", policy=POLICY),
    case("aws_cloudwatch_dashboard", "dashboard_body", json.dumps({"widgets": [{"type": "text"}]})),
]

# Dummy credentials, no account lookup, and one try per request: a CustomizeDiff that calls the API
# fails at once (emulator_environment sends every request to a closed loopback proxy).
TERRAFORM = {
    "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
    "provider": {"aws": {"region": "ap-northeast-2", "access_key": "testing", "secret_key": "testing",
                         "skip_credentials_validation": True, "skip_requesting_account_id": True,
                         "skip_metadata_api_check": True, "skip_region_validation": True, "max_retries": 1}},
}
STATE = {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": KEY}
MANAGED = {"mode": "managed", "provider": f'provider["{PROVIDER}"]'}
# fmt: on

# Entries the plan cannot show, with the reason. Every FORCES_NEW entry gets a case (FORCING's, or one
# made up from the schema), every MAY_FORCE_NEW entry needs its pair in MAYBE: test_every_entry_has_a_case.
UNPROVEN: dict[tuple[str, str], str] = {}


def _made_up(type_: Any) -> Any:
    """A value of a Terraform type (schema JSON form) that no base or case configures."""
    if type_ == "string":
        return "old"
    if type_ == "number":
        return 7
    if type_ == "bool":
        return True
    kind, element = type_
    if kind in ("list", "set"):
        return [_made_up(element)]
    if kind == "map":
        return {"old": _made_up(element)}
    return {name: _made_up(member) for name, member in element.items()}


def _other(value: Any, type_: Any) -> Any:
    """A value of the same type as ``value`` that differs from it."""
    if type_ == "string":
        return "old" if value != "old" else "older"
    if type_ == "number":
        return value + 1
    if type_ == "bool":
        return not value
    kind, element = type_
    if kind in ("list", "set"):
        return [_other(value[0], element), *value[1:]] if value else [_made_up(element)]
    return {**value, "old": _made_up(element)}


def _settable(block: dict[str, Any]) -> dict[str, Any]:
    return {
        name: a for name, a in block.get("attributes", {}).items() if a.get("optional") or a.get("required")
    }


def _made_up_block(nested: dict[str, Any], given: Any) -> Any:
    """A nested block that differs from the configured one (``given``) in every settable field."""
    block = nested["block"]
    element = given[0] if isinstance(given, list) else given
    if element is None:  # not configured: every field and nested block made up
        element = {name: _made_up_block(inner, None) for name, inner in block.get("block_types", {}).items()}
        changed = {name: _made_up(a["type"]) for name, a in _settable(block).items()}
    else:
        changed = {
            name: _other(element[name], a["type"]) if name in element else _made_up(a["type"])
            for name, a in _settable(block).items()
        }
    element = {**element, **changed}
    return [element] if nested["nesting_mode"] in ("list", "set") else element


def _zero(type_: Any) -> Any:
    """What the provider stores for a value AWS did not set."""
    if isinstance(type_, str):
        return {"string": "", "number": 0, "bool": False}[type_]
    return {"list": [], "set": [], "map": {}}.get(type_[0])


def _stored(value: dict[str, Any], block: dict[str, Any], top: bool) -> dict[str, Any]:
    """A configured object as the provider stores it: computed fields filled in, and nested unset
    fields as zero values (as SDKv2 keeps them); nested blocks likewise."""
    stored = dict(value)
    for name, attribute in block.get("attributes", {}).items():
        if name not in stored and (attribute.get("computed") or not top):
            stored[name] = _zero(attribute["type"])
    for name, nested in block.get("block_types", {}).items():
        given = stored.get(name)
        if nested["nesting_mode"] in ("list", "set"):
            stored[name] = [_stored(element, nested["block"], False) for element in given or []]
        elif given is not None:
            stored[name] = _stored(given, nested["block"], False)
    return stored


def configured(c: Case) -> dict[str, Any]:
    body = {**BASES[c.type], **c.config}
    return {name: value for name, value in body.items() if value is not None}


def prior_attributes(c: Case, body: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """The state's attributes: the configuration, with another value of the argument under test."""
    attributes = block.get("attributes", {})
    if c.prior is not MADE_UP:
        prior = c.prior
    elif c.argument in attributes:
        type_ = attributes[c.argument]["type"]
        prior = _other(body[c.argument], type_) if c.argument in body else _made_up(type_)
    else:
        prior = _made_up_block(block["block_types"][c.argument], body.get(c.argument))
    return {**_stored({**body, c.argument: prior}, block, True), **c.stored, "id": "old-id"}


def arguments(block: dict[str, Any]) -> list[str]:
    """A type's top-level arguments: settable attributes and blocks, without meta-arguments."""
    return sorted({*_settable(block), *block.get("block_types", {})} - NEVER_FORCING - {"id"})


def entries(table: dict[str, frozenset[str]]) -> set[tuple[str, str]]:
    return {(type_, argument) for type_, names in table.items() for argument in names}


def all_cases(schemas: dict[str, Any]) -> dict[tuple[str, str], tuple[Case, bool]]:
    """``(type, resource name) -> (case, whether it must replace)``; the name is the argument with
    ``__replaces`` or ``__updates``."""
    forcing = {(c.type, c.argument): c for c in FORCING}
    cases: dict[tuple[str, str], tuple[Case, bool]] = {}

    def add(c: Case, replaces: bool) -> None:
        key = (c.type, f"{c.argument}__{'replaces' if replaces else 'updates'}")
        assert key not in cases, f"two cases for {key}"
        cases[key] = (c, replaces)

    for type_, definite in FORCES_NEW.items():
        names = arguments(schemas[type_]["block"]) if definite == EVERY_ARGUMENT else definite
        for argument in sorted(names):
            if (type_, argument) not in UNPROVEN:
                add(forcing.get((type_, argument), case(type_, argument)), True)
    for replacing, updating in MAYBE.values():
        add(replacing, True)
        add(updating, False)
    for c in IN_PLACE:
        add(c, False)
    return cases


REPLACE = (["delete", "create"], ["create", "delete"])


def _terraform(directory: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["terraform", *args], cwd=directory, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"terraform {args[0]} failed:\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def planned(tmp_path_factory, terraform_env) -> list[tuple[Case, bool, dict[str, Any]]]:
    """Each case, whether it must replace, and its change as ``terraform show -json`` gives it."""
    directory, env = tmp_path_factory.mktemp("forces"), emulator_environment(terraform_env)
    (directory / "main.tf.json").write_text(json.dumps(TERRAFORM))
    _terraform(directory, env, "init", "-input=false", "-no-color")
    schemas = json.loads(_terraform(directory, env, "providers", "schema", "-json"))
    schemas = schemas["provider_schemas"][PROVIDER]["resource_schemas"]
    cases = all_cases(schemas)
    resources: dict[str, dict[str, Any]] = {}
    state = []
    for (type_, name), (c, _) in cases.items():
        resources.setdefault(type_, {})[name] = body = configured(c)
        attributes = prior_attributes(c, body, schemas[type_]["block"])
        instance = {"schema_version": schemas[type_]["version"], "attributes": attributes}
        state.append({**MANAGED, "type": type_, "name": name, "instances": [instance]})
    # One argument a line: a diagnostic quotes the line of the argument it is about.
    (directory / "main.tf.json").write_text(json.dumps({**TERRAFORM, "resource": resources}, indent=1))
    (directory / "terraform.tfstate").write_text(json.dumps({**STATE, "resources": state}))
    _terraform(directory, env, "plan", "-refresh=false", "-lock=false", "-no-color", "-out=plan")
    changes = json.loads(_terraform(directory, env, "show", "-json", "plan"))["resource_changes"]
    by_address = {change["address"]: change["change"] for change in changes}
    return [(c, replaces, by_address[f"{type_}.{name}"]) for (type_, name), (c, replaces) in cases.items()]


def verdict(c: Case, replaces: bool, change: dict[str, Any]) -> str | None:
    """What is wrong with a case's planned change, or None."""
    actions, paths, where = change["actions"], change.get("replace_paths") or [], f"{c.type}.{c.argument}"
    if replaces:
        if actions not in REPLACE or not paths:
            return f"{where}: expected a replacement, planned {actions}"
        stray = [path for path in paths if path[0] != c.argument]
        return f"{where}: also replaced by {stray}" if stray else None
    before, after = change["before"].get(c.argument), change["after"].get(c.argument)
    if actions != ["update"] or (before == after and not change["after_unknown"].get(c.argument)):
        return f"{where}: expected an in-place change of it, planned {actions} {paths}"
    return None


def test_the_table_is_what_the_provider_plans(planned):
    wrong = [problem for c, replaces, change in planned if (problem := verdict(c, replaces, change))]
    assert not wrong, "\n".join(wrong)


def test_the_table_knows_every_type_the_stacks_use(default, production):
    used = {
        type_
        for synth in (default, production)
        for stack in synth.stacks.values()
        for block, type_, _, _ in stack.blocks()
        if block == "resource"
    }
    assert used - FORCES_NEW.keys() == set()


def test_every_entry_has_a_case():
    definite = entries({t: a for t, a in FORCES_NEW.items() if a != EVERY_ARGUMENT})
    maybe = entries(MAY_FORCE_NEW)
    assert maybe - set(MAYBE) - set(UNPROVEN) == set(), "MAY_FORCE_NEW entries without a pair of cases"
    assert set(MAYBE) <= maybe, "cases for arguments that are no MAY_FORCE_NEW entry"
    assert {(c.type, c.argument) for c in FORCING} <= definite, "FORCING cases for no FORCES_NEW entry"
    assert set(UNPROVEN) <= definite | maybe
    assert definite.isdisjoint(maybe), "an argument either always or sometimes forces replacement"
    assert MAY_FORCE_NEW.keys() <= FORCES_NEW.keys()


def test_the_cases_agree_with_forced_by():
    for c in IN_PLACE:
        assert forced_by(c.type, [c.argument]) == Verdict(), c
    for type_, argument in MAYBE:
        assert forced_by(type_, [argument]) == Verdict(maybe=(argument,))


def test_forced_by_says_when_the_type_is_unknown():
    assert forced_by("aws_made_up_thing", ["name"]) == Verdict(unknown_type=True)
    assert forced_by("aws_internet_gateway", ["vpc_id", "tags"]) == Verdict()


def test_forced_by_splits_definite_and_maybe():
    changed = ["tags", "user_data", "ami", "instance_type", "root_block_device", "depends_on", "//"]
    assert forced_by("aws_instance", changed) == Verdict(
        forcing=("ami",), maybe=("root_block_device", "user_data")
    )


def test_every_argument_forces_but_meta_arguments():
    changed = ["role", "policy_arn", "lifecycle", "depends_on"]
    assert forced_by("aws_iam_role_policy_attachment", changed) == Verdict(forcing=("policy_arn", "role"))


def test_the_resources_own_flag_settles_what_it_decides():
    # user_data replaces the host only with user_data_replace_on_change (both proven by the cases above).
    flagged = {"user_data": "#!/bin/sh", "user_data_replace_on_change": True}
    assert forced_by("aws_instance", ["user_data"], flagged) == Verdict(forcing=("user_data",))
    assert forced_by("aws_instance", ["user_data"], {"user_data": "#!/bin/sh"}) == Verdict()
    assert forced_by("aws_instance", ["user_data"]) == Verdict(maybe=("user_data",))
