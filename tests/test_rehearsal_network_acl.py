"""The rehearsal's network-ACL check compares the emulator's default ACL with the configuration,
shown passing on exactly the configured rules and failing on anything else (no emulator needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.rehearsal.checks import network_acl_differences
from tools.tfjson import Stack


def _rule(rule_no: int, protocol: str, cidr: str, low: int, high: int) -> dict[str, Any]:
    return {
        "rule_no": rule_no,
        "action": "allow",
        "protocol": protocol,
        "cidr_block": cidr,
        "from_port": low,
        "to_port": high,
    }


CONFIGURED = Stack(
    "homu-test",
    Path("."),
    {
        "resource": {
            "aws_default_network_acl": {
                "acl": {
                    "ingress": [
                        _rule(100, "-1", "10.0.0.0/16", 0, 0),
                        _rule(110, "tcp", "0.0.0.0/0", 443, 443),
                        {**_rule(120, "icmp", "0.0.0.0/0", 0, 0), "icmp_type": 3, "icmp_code": 4},
                    ],
                    "egress": [_rule(100, "tcp", "0.0.0.0/0", 1024, 65535)],
                }
            }
        }
    },
)


def _entry(
    egress: bool, rule_no: int, protocol: str, cidr: str, ports: tuple[int, int] | None
) -> dict[str, Any]:
    """One entry of DescribeNetworkAcls, as AWS reports it (protocol numbers, no ports for "-1")."""
    entry = {
        "Egress": egress,
        "RuleNumber": rule_no,
        "Protocol": protocol,
        "RuleAction": "allow",
        "CidrBlock": cidr,
    }
    return {**entry, "PortRange": {"From": ports[0], "To": ports[1]}} if ports else entry


EXACT = [
    _entry(False, 100, "-1", "10.0.0.0/16", None),
    _entry(False, 110, "6", "0.0.0.0/0", (443, 443)),
    _entry(True, 100, "6", "0.0.0.0/0", (1024, 65535)),
    {**_entry(False, 120, "1", "0.0.0.0/0", (0, 0)), "IcmpTypeCode": {"Type": 3, "Code": 4}},
    # AWS's own catch-all deny in both directions, which no configuration states.
    {**_entry(False, 32767, "-1", "0.0.0.0/0", None), "RuleAction": "deny"},
    {**_entry(True, 32767, "-1", "0.0.0.0/0", None), "RuleAction": "deny"},
]


def test_exactly_the_configured_rules_pass():
    assert network_acl_differences(CONFIGURED, {"Entries": EXACT}) == []
    assert network_acl_differences(CONFIGURED, {"Entries": list(reversed(EXACT))}) == []


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        pytest.param(
            EXACT + [_entry(False, 120, "6", "0.0.0.0/0", (22, 22))], "not configured", id="ssh-added"
        ),
        pytest.param(EXACT[1:], "missing", id="vpc-rule-missing"),
        pytest.param(
            [*EXACT[:3], {**EXACT[3], "IcmpTypeCode": {"Type": 0, "Code": 0}}, *EXACT[4:]],
            "missing",
            id="icmp-lost",
        ),
        pytest.param(
            [EXACT[0], _entry(False, 110, "6", "0.0.0.0/0", (1, 65535)), *EXACT[2:]],
            "missing",
            id="range-widened",
        ),
        pytest.param(
            [*EXACT[:2], _entry(False, 100, "6", "0.0.0.0/0", (1024, 65535)), *EXACT[3:]],
            "missing",
            id="direction",
        ),
    ],
)
def test_any_other_rule_fails(entries, problem):
    differences = network_acl_differences(CONFIGURED, {"Entries": entries})
    assert differences and any(line.startswith(problem) for line in differences), differences
