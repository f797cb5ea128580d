"""The AWS provider bindings, imported without paying for all of them.

The package root of ``cdktf_cdktf_provider_aws`` imports all ~2,100 resource submodules (about 11 s
and 600 MB). Every submodule is self-contained (it needs only ``_jsii``, which loads the provider's
jsii assembly), so registering the package without running its ``__init__`` and importing just the
submodules below gives the same classes for a fraction of the cost. The node side of the same
problem is handled by ``jsii/lazy_provider_index.js`` (see ``modules/__init__.py``). Add a
submodule here when a construct needs a new resource type.
"""

import importlib.util
import sys

_PACKAGE = "cdktf_cdktf_provider_aws"

if _PACKAGE not in sys.modules:
    _spec = importlib.util.find_spec(_PACKAGE)
    if _spec is None:  # pragma: no cover - an environment problem, not a code path
        raise ImportError(f"{_PACKAGE} is not installed; run `pipenv install`")
    sys.modules[_PACKAGE] = importlib.util.module_from_spec(_spec)

from cdktf_cdktf_provider_aws import (  # noqa: E402  (must follow the registration above)
    acm_certificate,
    acm_certificate_validation,
    appautoscaling_policy,
    appautoscaling_scheduled_action,
    appautoscaling_target,
    cloudwatch_log_group,
    cloudwatch_metric_alarm,
    data_aws_ami,
    data_aws_availability_zones,
    data_aws_caller_identity,
    data_aws_ecs_task_definition,
    data_aws_elb_service_account,
    data_aws_iam_openid_connect_provider,
    data_aws_iam_policy_document,
    data_aws_partition,
    data_aws_route53_zone,
    data_aws_secretsmanager_random_password,
    db_instance,
    db_parameter_group,
    db_subnet_group,
    default_security_group,
    ecr_lifecycle_policy,
    ecr_repository,
    ecs_cluster,
    ecs_cluster_capacity_providers,
    ecs_service,
    ecs_task_definition,
    eip,
    elasticache_replication_group,
    elasticache_subnet_group,
    flow_log,
    iam_instance_profile,
    iam_openid_connect_provider,
    iam_role,
    iam_role_policy,
    iam_role_policy_attachment,
    instance,
    internet_gateway,
    kms_alias,
    kms_key,
    lb,
    lb_listener,
    lb_target_group,
    nat_gateway,
    provider,
    route,
    route53_record,
    route_table,
    route_table_association,
    s3_bucket,
    s3_bucket_lifecycle_configuration,
    s3_bucket_ownership_controls,
    s3_bucket_policy,
    s3_bucket_public_access_block,
    s3_bucket_server_side_encryption_configuration,
    s3_bucket_versioning,
    secretsmanager_secret,
    secretsmanager_secret_version,
    security_group,
    sns_topic,
    sns_topic_subscription,
    ssm_parameter,
    subnet,
    vpc,
    vpc_security_group_egress_rule,
    vpc_security_group_ingress_rule,
    wafv2_web_acl,
    wafv2_web_acl_association,
    wafv2_web_acl_logging_configuration,
)

__all__ = [name for name in dir() if not name.startswith("_") and name not in ("importlib", "sys")]
