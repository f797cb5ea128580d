"""Internet-facing ALB: HTTPS with a modern TLS policy, HTTP redirected, access logs kept 30 days."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws, iam
from modules.monitoring import log_group
from modules.policy import skip_check
from modules.private_bucket import PrivateBucket

# TLS 1.3 and 1.2 with forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The guide's S3 lifecycle: log files are deleted after 30 days.
ACCESS_LOG_DAYS = 30

# Regions opened since December 2021 have no ELB log-delivery account, only the service principal.
SERVICE_PRINCIPAL_ONLY_REGIONS = frozenset(
    {
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "eu-central-2",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
    }
)

# Requests per 5 minutes from one IP before WAF blocks it: far above what one person's browser sends.
RATE_LIMIT_PER_5_MINUTES = 2000

_listener = aws.lb_listener
_waf = aws.wafv2_web_acl


def _visibility(metric: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


@dataclass(frozen=True)
class Https:
    """Where the certificate comes from: issued for ``domain_name`` and DNS-validated in
    ``hosted_zone`` (which also gets an alias record when ``alias`` is on), or an existing
    ``certificate_arn``."""

    domain_name: str | None = None
    hosted_zone: str | None = None
    certificate_arn: str | None = None
    # Whether domain_name reaches this load balancer: its alias record (in hosted_zone) and its url.
    # Off while another compute answers it; the certificate is still issued and validated.
    alias: bool = True


class LoadBalancer(Construct):
    """ALB ``name`` over the public subnets, forwarding to an IP target group on ``target_port``.

    Without a certificate (``Https``) the listener is plain HTTP on port 80 and ``https`` is False.
    """

    url: str  # what users open: https://domain_name, or the ALB's own name over HTTP
    dns_name: str  # the ALB's DNS name
    https: bool  # whether a certificate is attached (False: plain HTTP on port 80)
    target_group_arn: str  # where the ECS service registers its tasks
    arn_suffix: str  # the ALB's CloudWatch dimension
    target_group_arn_suffix: str  # the target group's CloudWatch dimension
    listeners: list  # a service must wait for them: ECS rejects a target group without a listener

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        vpc_id: str,
        subnet_ids: list[str],
        security_group_id: str,
        target_port: int,
        health_check_path: str,
        deletion_protection: bool,
        tls: Https,
        region: str,
        firewall: bool = False,
        log_retention_days: int = 30,
        kms_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        logs = PrivateBucket(
            self,
            "access-logs",
            bucket_prefix=f"{name}-logs-",
            kms_key_arn=None,
            force_destroy=not deletion_protection,
            expire_current_days=ACCESS_LOG_DAYS,
            scan_exceptions={
                "CKV_AWS_145": "ALB access-log delivery supports only SSE-S3 (AES256) buckets",
                "CKV_AWS_21": "append-only access logs that expire after 30 days; versions would keep nothing new",
                "CKV_AWS_144": "access logs are kept 30 days for troubleshooting, not as a record to survive a region",
                "CKV_AWS_18": "this is the log bucket; logging its own access would log the logs",
            },
            policy_statements=lambda bucket_arn: [
                iam.statement(
                    ["s3:PutObject"],
                    [f"{bucket_arn}/{name}/AWSLogs/*"],
                    sid="AllowAlbLogDelivery",
                    Principal=self._log_delivery_principal(region),
                ),
            ],
        )
        self._balancer = aws.lb.Lb(
            self,
            "alb",
            name=name,
            internal=False,
            load_balancer_type="application",
            subnets=subnet_ids,
            security_groups=[security_group_id],
            # Requests with malformed headers are dropped, not passed to the app (request smuggling).
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_deletion_protection=deletion_protection,
            idle_timeout=60,
            access_logs=aws.lb.LbAccessLogs(bucket=logs.name, prefix=name, enabled=True),
            depends_on=[logs],
        )
        self._target_group = aws.lb_target_group.LbTargetGroup(
            self,
            "targets",
            name=f"{name}-tg",
            target_type="ip",
            protocol="HTTP",
            port=target_port,
            vpc_id=vpc_id,
            deregistration_delay="30",
            health_check=aws.lb_target_group.LbTargetGroupHealthCheck(
                path=health_check_path,
                protocol="HTTP",
                port="traffic-port",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
        )
        forward = [_listener.LbListenerDefaultAction(type="forward", target_group_arn=self._target_group.arn)]

        domain_name = tls.domain_name
        certificate = tls.certificate_arn
        if tls.hosted_zone and domain_name:
            zone = aws.data_aws_route53_zone.DataAwsRoute53Zone(
                self, "zone", name=tls.hosted_zone, private_zone=False
            )
            certificate = self._issue_certificate(domain_name, zone.zone_id)
        if tls.hosted_zone and domain_name and tls.alias:
            aws.route53_record.Route53Record(
                self,
                "alias",
                zone_id=zone.zone_id,
                name=domain_name,
                type="A",
                alias=aws.route53_record.Route53RecordAlias(
                    name=self._balancer.dns_name, zone_id=self._balancer.zone_id, evaluate_target_health=True
                ),
            )

        self.https = certificate is not None
        if not deletion_protection:
            skip_check(
                self._balancer,
                "CKV_AWS_150",
                "deletion protection is off outside production so a dev "
                "stack can be destroyed; prod turns it on",
            )
        if not firewall:
            skip_check(
                self._balancer,
                "CKV2_AWS_28",
                "no WAF outside production (setting waf) to save ~$10 a month; prod puts AWS WAF in front",
            )
        else:
            skip_check(
                self._balancer,
                "CKV2_AWS_76",
                "Log4j is covered by AWSManagedRulesKnownBadInputsRuleSet, "
                "which is attached; the check also demands AWSManagedRulesAnonymousIpList, which would "
                "block every VPN user",
            )
        if self.https:
            https = _listener.LbListener(
                self,
                "https",
                load_balancer_arn=self._balancer.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=certificate,
                default_action=forward,
            )
            http = _listener.LbListener(
                self,
                "http",
                load_balancer_arn=self._balancer.arn,
                port=80,
                protocol="HTTP",
                default_action=[
                    _listener.LbListenerDefaultAction(
                        type="redirect",
                        redirect=_listener.LbListenerDefaultActionRedirect(
                            port="443", protocol="HTTPS", status_code="HTTP_301"
                        ),
                    )
                ],
            )
            self.listeners = [https, http]
        else:
            http_only = _listener.LbListener(
                self,
                "http",
                load_balancer_arn=self._balancer.arn,
                port=80,
                protocol="HTTP",
                default_action=forward,
            )
            reason = (
                "no domain or certificate is configured (domain_name with hosted_zone, or "
                "certificate_arn), so there is nothing to serve HTTPS with; synthesis warns about it"
            )
            skip_check(http_only, "CKV_AWS_2", reason)
            skip_check(http_only, "CKV_AWS_103", reason)
            skip_check(self._balancer, "CKV2_AWS_20", reason)
            skip_check(self._target_group, "CKV_AWS_378", reason)
            self.listeners = [http_only]
        if firewall:
            self._firewall(name, log_retention_days, kms_key_arn)
        # While another compute answers the domain, the ALB is reached by its own name.
        host = domain_name if domain_name and tls.alias else self._balancer.dns_name
        self.url = f"https://{host}" if self.https else f"http://{self._balancer.dns_name}"
        self.dns_name = self._balancer.dns_name
        self.target_group_arn = self._target_group.arn
        self.arn_suffix = self._balancer.arn_suffix
        self.target_group_arn_suffix = self._target_group.arn_suffix

    def _firewall(self, name: str, log_retention_days: int, kms_key_arn: str | None) -> None:
        """AWS WAF in front of the ALB: AWS's managed baseline, known bad inputs (Log4Shell and the
        like), IP reputation, and a per-IP rate limit; every request it sees is logged."""

        def managed(priority: int, group: str, overrides: tuple[str, ...] = ()) -> _waf.Wafv2WebAclRule:
            statement: dict = {"vendor_name": "AWS", "name": group}
            if overrides:
                statement["rule_action_override"] = [
                    {"name": rule, "action_to_use": {"count": {}}} for rule in overrides
                ]
            return _waf.Wafv2WebAclRule(
                name=group,
                priority=priority,
                statement={"managed_rule_group_statement": statement},
                override_action=_waf.Wafv2WebAclRuleOverrideAction(
                    none=_waf.Wafv2WebAclRuleOverrideActionNone()
                ),
                visibility_config=_waf.Wafv2WebAclRuleVisibilityConfig(**_visibility(group)),
            )

        acl = _waf.Wafv2WebAcl(
            self,
            "firewall",
            name=f"{name}-waf",
            scope="REGIONAL",
            default_action=_waf.Wafv2WebAclDefaultAction(allow=_waf.Wafv2WebAclDefaultActionAllow()),
            rule=[
                # Request bodies over 8 KB are counted, not blocked: uploads are legitimate here.
                managed(1, "AWSManagedRulesCommonRuleSet", overrides=("SizeRestrictions_BODY",)),
                managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
                managed(3, "AWSManagedRulesAmazonIpReputationList"),
                _waf.Wafv2WebAclRule(
                    name="rate-limit-per-ip",
                    priority=4,
                    action=_waf.Wafv2WebAclRuleAction(block=_waf.Wafv2WebAclRuleActionBlock()),
                    statement={
                        "rate_based_statement": {
                            "limit": RATE_LIMIT_PER_5_MINUTES,
                            "aggregate_key_type": "IP",
                        }
                    },
                    visibility_config=_waf.Wafv2WebAclRuleVisibilityConfig(
                        **_visibility("rate-limit-per-ip")
                    ),
                ),
            ],
            visibility_config=_waf.Wafv2WebAclVisibilityConfig(**_visibility(f"{name}-waf")),
        )
        aws.wafv2_web_acl_association.Wafv2WebAclAssociation(
            self, "firewall-attachment", resource_arn=self._balancer.arn, web_acl_arn=acl.arn
        )
        # WAF only logs to groups whose name starts with "aws-waf-logs-".
        logs = log_group(
            self,
            "firewall-logs",
            name=f"aws-waf-logs-{name}",
            retention_days=log_retention_days,
            kms_key_arn=kms_key_arn,
        )
        aws.wafv2_web_acl_logging_configuration.Wafv2WebAclLoggingConfiguration(
            self, "firewall-logging", resource_arn=acl.arn, log_destination_configs=[logs.arn]
        )

    def _log_delivery_principal(self, region: str) -> dict[str, Any]:
        """Who writes ALB access logs: a service principal, plus the regional ELB account where one exists."""
        principal: dict[str, Any] = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        if region not in SERVICE_PRINCIPAL_ONLY_REGIONS:
            elb_account = aws.data_aws_elb_service_account.DataAwsElbServiceAccount(self, "elb-account")
            principal["AWS"] = elb_account.arn
        return principal

    def _issue_certificate(self, domain_name: str, zone_id: str) -> str:
        """An ACM certificate validated through a DNS record in the zone; returns its ARN once issued."""
        certificate = aws.acm_certificate.AcmCertificate(
            self,
            "certificate",
            domain_name=domain_name,
            validation_method="DNS",
            lifecycle={"create_before_destroy": True},
        )
        option = certificate.domain_validation_options.get(0)
        record = aws.route53_record.Route53Record(
            self,
            "certificate-validation",
            zone_id=zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            allow_overwrite=True,
        )
        validation = aws.acm_certificate_validation.AcmCertificateValidation(
            self, "certificate-issued", certificate_arn=certificate.arn, validation_record_fqdns=[record.fqdn]
        )
        return validation.certificate_arn
