"""The allowlist the privileged plan job applies to a pull request's synthesized JSON: the real stacks
pass, and each way a pull request could make Terraform run code, read the runner's files or send the
role's requests elsewhere is refused with one line naming it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from modules.names import REMOTE_STATE_STACKS
from tools.ci.allowlist import DATA_SOURCES, locked_version, refusals

VERSION = "5.100.0"


def test_the_lock_files_version_is_the_pinned_bindings_provider():
    assert locked_version() == VERSION


@pytest.mark.parametrize("configuration", ["default", "production"])
def test_every_stack_as_synthesized_passes(request, configuration):
    synthesis = request.getfixturevalue(configuration)
    for stack in REMOTE_STATE_STACKS:
        assert refusals(stack, synthesis[stack].config, synthesis.settings, VERSION) == [], stack


def test_the_data_sources_are_exactly_those_the_stacks_read(default, production, synth):
    """Kept in step both ways: a stack's new data source must be added here, an unused one dropped."""
    other = synth(hosted_zone="example.com", domain_name="api.example.com", github_repository="a/b",
                  github_oidc_provider="existing")  # fmt: skip
    used = {
        type_
        for synthesis in (default, production, other)
        for stack in REMOTE_STATE_STACKS
        for type_ in synthesis[stack].config.get("data", {})
    }
    assert used == DATA_SOURCES


def fargate(production) -> dict[str, Any]:
    return copy.deepcopy(production["homu-fargate"].config)


def _external(c):
    c["data"]["external"] = {"run": {"program": ["sh", "-c", "env"]}}


def _second_provider(c):
    c["terraform"]["required_providers"]["http"] = {"source": "hashicorp/http", "version": "3.4.0"}


def _endpoints(c):
    c["provider"]["aws"][0]["endpoints"] = [{"sts": "https://attacker.example"}]


def _backend(c):
    c["terraform"]["backend"]["s3"]["bucket"] = "someone-elses-bucket"


def _assume_role(c):
    c["provider"]["aws"][0]["assume_role"] = [{"role_arn": "arn:aws:iam::123456789012:role/admin"}]


def _provider_version(c):
    c["terraform"]["required_providers"]["aws"]["version"] = "5.99.0"


def _forked_provider(c):
    c["terraform"]["required_providers"]["aws"]["source"] = "evil/aws"


def _file_function(c):
    c["output"]["url"]["value"] = '${file("/proc/self/environ")}'


def _provisioner(c):
    name = next(iter(c["resource"]["aws_ecr_repository"]))
    c["resource"]["aws_ecr_repository"][name]["provisioner"] = [{"local-exec": {"command": "env"}}]


def _module(c):
    c["module"] = {"x": {"source": "git::https://example.com/m.git"}}


def _other_state(c):
    c["data"]["terraform_remote_state"]["homu-data"]["config"]["key"] = "dev/homu-data/terraform.tfstate"


def _secret_data_source(c):
    c["data"]["aws_secretsmanager_secret_version"] = {"db": {"secret_id": "rds!db"}}


def _array_syntax(c):
    c["resource"] = [c["resource"]]


MALICIOUS: dict[str, tuple[Callable[[dict], None], str]] = {
    "an external data source": (
        _external,
        "homu-fargate: data.external.run: data source type 'external' is not allowed (allowed: "
        + ", ".join(sorted(DATA_SOURCES))
        + ")",
    ),
    "a second provider": (
        _second_provider,
        (
            "homu-fargate: terraform.required_providers.http (hashicorp/http) is not allowed "
            "(allowed: aws from registry.terraform.io/hashicorp/aws)"
        ),
    ),
    "a provider endpoints override": (
        _endpoints,
        "homu-fargate: provider.aws.endpoints is not allowed (allowed: region, default_tags)",
    ),
    "a changed backend": (
        _backend,
        (
            "homu-fargate: terraform.backend is {'s3': {'bucket': 'someone-elses-bucket', 'encrypt': True, "
            "'key': 'prod/homu-fargate/terraform.tfstate', 'kms_key_id': 'alias/homu-prod-state', "
            "'region': 'ap-northeast-2', 'use_lockfile': True}}; allowed: exactly {'s3': {'bucket': "
            "'homu-prod-terraform-state', 'key': 'prod/homu-fargate/terraform.tfstate', 'region': "
            "'ap-northeast-2', 'encrypt': True, 'kms_key_id': 'alias/homu-prod-state', 'use_lockfile': True}}"
        ),
    ),
    "a role to assume": (
        _assume_role,
        "homu-fargate: provider.aws.assume_role is not allowed (allowed: region, default_tags)",
    ),
    "another provider version": (
        _provider_version,
        (
            "homu-fargate: terraform.required_providers.aws.version is '5.99.0'; allowed: exactly '5.100.0' "
            "(the lock file's)"
        ),
    ),
    "a provider from another namespace": (
        _forked_provider,
        (
            "homu-fargate: terraform.required_providers.aws (evil/aws) is not allowed "
            "(allowed: aws from registry.terraform.io/hashicorp/aws)"
        ),
    ),
    "a function reading the runner's files": (
        _file_function,
        "homu-fargate: output.url.value: a function that reads files on the runner is not allowed",
    ),
    "a module": (
        _module,
        (
            "homu-fargate: top-level block 'module' is not allowed (allowed: terraform, provider, resource, "
            "data, output, locals, import, moved)"
        ),
    ),
    "the array syntax": (_array_syntax, "homu-fargate: resource is not a JSON object as cdktf writes it"),
}


@pytest.mark.parametrize("case", MALICIOUS)
def test_each_malicious_change_is_refused_with_one_line_naming_it(production, case):
    mutate, line = MALICIOUS[case]
    config = fargate(production)
    mutate(config)
    assert refusals("homu-fargate", config, production.settings, VERSION) == [line]


def test_a_provisioner_is_refused_at_its_resource(production):
    config = fargate(production)
    _provisioner(config)
    (name,) = config["resource"]["aws_ecr_repository"]
    assert refusals("homu-fargate", config, production.settings, VERSION) == [
        f"homu-fargate: aws_ecr_repository.{name}: provisioner is not allowed"
    ]


def test_reading_another_environments_state_is_refused(production):
    config = fargate(production)
    _other_state(config)
    (line,) = refusals("homu-fargate", config, production.settings, VERSION)
    assert line.startswith("homu-fargate: data.terraform_remote_state.homu-data: reads 's3' {")
    assert "'key': 'dev/homu-data/terraform.tfstate'" in line
    assert line.endswith("allowed: the S3 state of homu-data, homu-fargate, homu-ec2 in this environment, "
                         "configured as the backend is")  # fmt: skip


def test_a_secret_reading_data_source_is_refused(production):
    config = fargate(production)
    _secret_data_source(config)
    (line,) = refusals("homu-fargate", config, production.settings, VERSION)
    assert line.startswith(
        "homu-fargate: data.aws_secretsmanager_secret_version.db: data source type "
        "'aws_secretsmanager_secret_version' is not allowed"
    )


def test_every_problem_is_reported_at_once(production):
    config = fargate(production)
    for mutate in (_external, _endpoints, _backend, _file_function):
        mutate(config)
    assert len(refusals("homu-fargate", config, production.settings, VERSION)) == 4


def test_a_file_read_under_a_comment_key_is_refused_too(production):
    """Terraform ignores "//" only in block bodies: in an attribute's object value it is evaluated, so
    a "//" key is read like any other (cdktf's own metadata and checkov skips there hold no template)."""
    config = fargate(production)
    (name,) = config["resource"]["aws_ecr_repository"]
    config["resource"]["aws_ecr_repository"][name]["tags"] = {"//": '${file("/proc/self/environ")}'}
    assert refusals("homu-fargate", config, production.settings, VERSION) == [
        (
            f"homu-fargate: resource.aws_ecr_repository.{name}.tags.//: a function that reads files on the runner "
            "is not allowed"
        )
    ]
