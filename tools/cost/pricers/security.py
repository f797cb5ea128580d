"""Secrets Manager secrets, KMS keys and WAF web ACLs."""

from __future__ import annotations

from typing import Any

from tools.cost.model import Line, Unpriced
from tools.cost.pricers.context import Context


def price_secret(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    return [
        ctx.prices.line(
            f"aws_secretsmanager_secret.{name}",
            f"secret {body.get('name', name)}",
            1,
            "secret-mo",
            "secret_month",
        )
    ]


def price_kms_key(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    rotation = body.get("enable_key_rotation") in (True, "true")
    item = "KMS customer managed key" + (
        " (rotation on: +$1/month after each of the first two yearly rotations, not included)"
        if rotation
        else ""
    )
    return [ctx.prices.line(f"aws_kms_key.{name}", item, 1, "key-mo", "kms_key_month")]


PAID_MANAGED_RULE_GROUPS = {
    "AWSManagedRulesBotControlRuleSet",
    "AWSManagedRulesATPRuleSet",
    "AWSManagedRulesACFPRuleSet",
    "AWSManagedRulesAntiDDoSRuleSet",
}


def price_wafv2_web_acl(ctx: Context, name: str, body: dict[str, Any]) -> list[Line]:
    address = f"aws_wafv2_web_acl.{name}"
    if body.get("scope", "REGIONAL") != "REGIONAL":
        raise Unpriced("CloudFront-scope web ACLs are not priced")
    rules = body.get("rule") or []
    for rule in rules:
        group = (rule.get("statement") or {}).get("managed_rule_group_statement")
        if group and (group.get("vendor_name") != "AWS" or group.get("name") in PAID_MANAGED_RULE_GROUPS):
            raise Unpriced(
                f"managed rule group {group.get('vendor_name')}/{group.get('name')} has its own "
                "subscription and request fees, not priced"
            )
    if (
        body.get("captcha_config")
        or body.get("challenge_config")
        or any(
            "captcha" in (rule.get("action") or {}) or "challenge" in (rule.get("action") or {})
            for rule in rules
        )
    ):
        raise Unpriced("CAPTCHA/Challenge attempts are not priced")
    requests = ctx.assume["waf_requests_million"]
    return [
        ctx.prices.line(address, f"web ACL {body.get('name', name)}", 1, "web-ACL-mo", "waf_web_acl_month"),
        ctx.prices.line(
            address,
            f"WAF rules ({len(rules)}; a managed rule group counts as one)",
            len(rules),
            "rule-mo",
            "waf_rule_month",
        ),
        ctx.prices.line(
            address, f"WAF requests ({requests:g} M)", requests, "M requests", "waf_million_requests"
        ),
    ]
