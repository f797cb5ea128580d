"""The pricer of every priced resource type, one module per AWS area; ``FREE`` lists the types that
cost nothing by themselves."""

from __future__ import annotations

from tools.cost.pricers.cache import price_elasticache_cluster, price_elasticache_group
from tools.cost.pricers.compute import price_ebs_volume, price_ecs_cluster, price_ecs_service, price_instance
from tools.cost.pricers.context import Pricer
from tools.cost.pricers.database import price_db_instance
from tools.cost.pricers.free import DATA_NOTES, FREE
from tools.cost.pricers.network import (
    price_acm_certificate,
    price_eip,
    price_lb,
    price_nat_gateway,
    price_route53_zone,
)
from tools.cost.pricers.observability import price_alarm, price_dashboard, price_log_group
from tools.cost.pricers.security import price_kms_key, price_secret, price_wafv2_web_acl
from tools.cost.pricers.storage import price_ecr_repository, price_s3_bucket, price_ssm_parameter

PRICERS: dict[str, Pricer] = {
    "aws_ecs_service": price_ecs_service,
    "aws_ecs_cluster": price_ecs_cluster,
    "aws_lb": price_lb,
    "aws_alb": price_lb,
    "aws_nat_gateway": price_nat_gateway,
    "aws_eip": price_eip,
    "aws_instance": price_instance,
    "aws_ebs_volume": price_ebs_volume,
    "aws_db_instance": price_db_instance,
    "aws_elasticache_replication_group": price_elasticache_group,
    "aws_elasticache_cluster": price_elasticache_cluster,
    "aws_secretsmanager_secret": price_secret,
    "aws_kms_key": price_kms_key,
    "aws_wafv2_web_acl": price_wafv2_web_acl,
    "aws_cloudwatch_metric_alarm": price_alarm,
    "aws_cloudwatch_log_group": price_log_group,
    "aws_cloudwatch_dashboard": price_dashboard,
    "aws_route53_zone": price_route53_zone,
    "aws_ecr_repository": price_ecr_repository,
    "aws_s3_bucket": price_s3_bucket,
    "aws_ssm_parameter": price_ssm_parameter,
    "aws_acm_certificate": price_acm_certificate,
}
assert not set(PRICERS) & set(FREE), "a type is either priced or free"

__all__ = ["DATA_NOTES", "FREE", "PRICERS"]
