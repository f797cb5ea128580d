"""homu-alb: HTTPS by certificate, HTTP redirected, invalid headers dropped, logs kept 30 days."""

from __future__ import annotations

import json

from tests.conftest import run_main
from tests.synth import data_output
from tools.tfjson import Stack, ref

CERTIFICATE = "arn:aws:acm:ap-northeast-2:123456789012:certificate/0f5c9a52-1b2c-4d3e-8f90-a1b2c3d4e5f6"


def listeners(stack: Stack) -> dict[int, dict]:
    return {body["port"]: body for body in stack.resources("aws_lb_listener").values()}


def test_alb_spans_the_public_subnets_and_drops_invalid_headers(default):
    stack = default["homu-fargate"]
    alb = stack.resource("aws_lb")
    assert (alb["name"], alb["internal"], alb["load_balancer_type"]) == ("homu-alb", False, "application")
    assert alb["subnets"] == data_output("public_subnet_ids")
    entry = next(a for a, g in stack.resources("aws_security_group").items() if g["name"] == "homu-alb-sg")
    assert alb["security_groups"] == [ref(f"aws_security_group.{entry}")]
    assert alb["drop_invalid_header_fields"] is True and alb["desync_mitigation_mode"] == "defensive"
    assert alb["enable_deletion_protection"] is False


def test_target_group_checks_health_on_the_app_port(default):
    group = default["homu-fargate"].resource("aws_lb_target_group")
    assert (group["target_type"], group["protocol"], group["port"]) == ("ip", "HTTP", 8000)
    check = group["health_check"]
    assert (check["path"], check["matcher"], check["port"]) == ("/health", "200", "traffic-port")


def test_without_a_certificate_the_alb_is_http_only(default):
    stack = default["homu-fargate"]
    (http,) = listeners(stack).values()
    assert (http["port"], http["protocol"]) == (80, "HTTP")
    assert http["default_action"][0]["type"] == "forward"


def test_http_only_is_said_once_and_why(tmp_path):
    result = run_main(tmp_path)
    assert result.returncode == 0, result.stderr
    http_only = [
        line for line in result.stderr.splitlines() if line.startswith("warning: ") and "plain HTTP" in line
    ]
    assert len(http_only) == 1 and "hosted_zone" in http_only[0]


def test_with_a_hosted_zone_the_certificate_is_issued_validated_and_aliased(production):
    stack = production["homu-fargate"]
    certificate = stack.resource("aws_acm_certificate")
    assert (certificate["domain_name"], certificate["validation_method"]) == ("api.homu.example.com", "DNS")
    cert = stack.address("aws_acm_certificate", certificate)
    validation = stack.resource("aws_acm_certificate_validation")
    record = stack.named("aws_route53_record", "load-balancer/certificate-validation")
    assert record["name"] == f"${{tolist({cert}.domain_validation_options).0.resource_record_name}}"
    assert validation["validation_record_fqdns"] == [ref(stack.address("aws_route53_record", record), "fqdn")]
    (zone_name,) = stack.data("aws_route53_zone")
    assert stack.data("aws_route53_zone")[zone_name]["name"] == "homu.example.com"
    alias = stack.named("aws_route53_record", "load-balancer/alias")
    alb = stack.address("aws_lb", stack.resource("aws_lb"))
    assert (alias["name"], alias["type"]) == ("api.homu.example.com", "A")
    assert alias["alias"] == {
        "name": ref(alb, "dns_name"),
        "zone_id": ref(alb, "zone_id"),
        "evaluate_target_health": True,
    }

    by_port = listeners(stack)
    https, http = by_port[443], by_port[80]
    assert https["protocol"] == "HTTPS" and https["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificate_arn"] == ref(
        stack.address("aws_acm_certificate_validation", validation), "certificate_arn"
    )
    assert https["default_action"][0]["type"] == "forward"
    assert http["default_action"] == [
        {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
    ]
    assert stack.outputs["url"]["value"] == "https://api.homu.example.com"
    assert stack.resource("aws_lb")["enable_deletion_protection"] is True


def test_an_existing_certificate_is_used_as_is(synth):
    stack = synth(domain_name="api.example.com", certificate_arn=CERTIFICATE)["homu-fargate"]
    assert stack.resources("aws_acm_certificate") == {} and stack.resources("aws_route53_record") == {}
    assert listeners(stack)[443]["certificate_arn"] == CERTIFICATE


def test_access_logs_go_to_a_private_bucket_that_forgets_after_30_days(default):
    stack = default["homu-fargate"]
    alb = stack.resource("aws_lb")
    bucket = stack.named("aws_s3_bucket", "load-balancer/access-logs/bucket")
    address = stack.address("aws_s3_bucket", bucket)
    assert alb["access_logs"] == {"bucket": ref(address, "bucket"), "prefix": "homu-alb", "enabled": True}
    assert bucket["bucket_prefix"] == "homu-alb-logs-"
    (rule,) = stack.named("aws_s3_bucket_lifecycle_configuration", "load-balancer/access-logs/lifecycle")[
        "rule"
    ]
    assert rule["expiration"] == [{"days": 30}]
    (sse,) = stack.named(
        "aws_s3_bucket_server_side_encryption_configuration", "load-balancer/access-logs/encryption"
    )["rule"]
    assert sse["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}, (
        "ALB logs require SSE-S3"
    )
    statements = {
        s["Sid"]: s
        for s in json.loads(
            stack.named("aws_s3_bucket_policy", "load-balancer/access-logs/policy")["policy"]
        )["Statement"]
    }
    delivery = statements["AllowAlbLogDelivery"]
    (elb_account,) = stack.data("aws_elb_service_account")
    assert delivery["Principal"] == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com",
        "AWS": f"${{data.aws_elb_service_account.{elb_account}.arn}}",
    }
    assert delivery["Action"] == ["s3:PutObject"] and delivery["Resource"] == [
        ref(address, "arn") + "/homu-alb/AWSLogs/*"
    ]
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    block = stack.named("aws_s3_bucket_public_access_block", "load-balancer/access-logs/public-access")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )


def test_newer_regions_deliver_logs_through_the_service_principal_only(synth):
    stack = synth(region="ap-southeast-4")["homu-fargate"]
    assert stack.data("aws_elb_service_account") == {}
    statements = json.loads(
        stack.named("aws_s3_bucket_policy", "load-balancer/access-logs/policy")["policy"]
    )["Statement"]
    assert statements[1]["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_production_alb_sits_behind_waf_with_managed_rules_rate_limit_and_logging(default, production):
    assert default["homu-fargate"].resources("aws_wafv2_web_acl") == {}
    stack = production["homu-fargate"]
    acl = stack.resource("aws_wafv2_web_acl")
    acl_address = stack.address("aws_wafv2_web_acl", acl)
    assert (acl["scope"], acl["default_action"]) == ("REGIONAL", {"allow": {}})
    rules = {r["name"]: r for r in acl["rule"]}
    assert [r["priority"] for r in acl["rule"]] == [1, 2, 3, 4]
    for group in (
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ):
        statement = rules[group]["statement"]["managed_rule_group_statement"]
        assert (statement["vendor_name"], statement["name"]) == ("AWS", group)
    assert rules["AWSManagedRulesCommonRuleSet"]["statement"]["managed_rule_group_statement"][
        "rule_action_override"
    ] == [{"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}}]
    assert rules["rate-limit-per-ip"]["action"] == {"block": {}}
    assert rules["rate-limit-per-ip"]["statement"] == {
        "rate_based_statement": {"limit": 2000, "aggregate_key_type": "IP"}
    }
    association = stack.resource("aws_wafv2_web_acl_association")
    assert association == {
        **association,
        "resource_arn": ref(stack.address("aws_lb", stack.resource("aws_lb")), "arn"),
        "web_acl_arn": ref(acl_address, "arn"),
    }
    logs = stack.named("aws_cloudwatch_log_group", "load-balancer/firewall-logs")
    assert logs["name"] == "aws-waf-logs-homu-alb"
    logging = stack.resource("aws_wafv2_web_acl_logging_configuration")
    assert logging["log_destination_configs"] == [ref(stack.address("aws_cloudwatch_log_group", logs), "arn")]


def test_waf_is_a_setting(synth):
    assert synth(waf=True)["homu-fargate"].resources("aws_wafv2_web_acl") != {}
