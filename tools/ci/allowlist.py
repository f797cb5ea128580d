"""What synthesized JSON from a pull request may hold before Terraform runs it with the plan role.

The JSON is built by the pull request's own code, so it is untrusted data. ``terraform init`` and
``plan`` run code the configuration names (providers, data sources), read files on the runner
(``file()``, ``templatefile()``: the job's environment holds the role's session) and send requests
wherever a provider's ``endpoints`` say. Only what these stacks need passes:

- top-level blocks ``terraform``, ``provider``, ``resource``, ``data``, ``output``, ``locals``,
  ``import``, ``moved`` (no ``module``, ``check``, ``variable`` or anything newer);
- the ``aws`` provider alone, from hashicorp, at the locked version, with ``region`` (this
  environment's) and ``default_tags`` only: no endpoints, roles, profiles, credential files, proxies;
- the S3 backend exactly as this environment's settings give it for the stack, and
  ``terraform_remote_state`` only of this environment's stacks, configured the same way;
- resources of the aws provider without provisioners or a ``provider`` other than ``aws``;
- data sources of the types the stacks use (``DATA_SOURCES``): none runs code or reads data;
- no function that reads the runner's files, and no provider-defined function.

Each refusal is one line naming the stack, the address and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modules.names import REMOTE_STATE_STACKS
from modules.settings import Settings

PROVIDER_LOCK = Path(__file__).resolve().parent.parent.parent / "providers.lock.hcl"
_LOCKED = re.compile(r'provider "([^"]+)" \{\s*version\s*=\s*"([^"]+)"')
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"

TOP_LEVEL = ("//", "terraform", "provider", "resource", "data", "output", "locals", "import", "moved")
TERRAFORM_SETTINGS = ("backend", "required_providers", "required_version")
PROVIDER_ARGUMENTS = ("region", "default_tags")
# Every data source type the stacks read (tests/test_ci_allowlist.py keeps this in step): metadata
# lookups only. Adding one to a stack means adding it here first, on the base branch.
DATA_SOURCES = frozenset(
    {
        "aws_ami",
        "aws_availability_zones",
        "aws_caller_identity",
        "aws_ecs_task_definition",
        "aws_elb_service_account",
        "aws_iam_openid_connect_provider",
        "aws_route53_zone",
        "terraform_remote_state",
    }
)
REMOTE_STATE_ARGUMENTS = ("//", "backend", "config")
# Meta-arguments that hand a block to something other than the aws provider's own API reads.
FORBIDDEN_IN_BLOCKS = ("provisioner", "connection")
# Functions that read files on the machine Terraform runs on.
_FILE_FUNCTION = re.compile(
    r"(?<![\w.])(file|fileexists|fileset|filebase64|filebase64sha256|filebase64sha512|filemd5|filesha1"
    r"|filesha256|filesha512|templatefile|abspath|pathexpand)\s*\("
)


def locked_version(lock: Path = PROVIDER_LOCK) -> str:
    """The version of hashicorp/aws in the committed lock file."""
    versions = dict(_LOCKED.findall(lock.read_text()))
    if set(versions) != {AWS_PROVIDER}:
        raise ValueError(f"{lock}: expected exactly {AWS_PROVIDER}, found {', '.join(versions) or 'nothing'}")
    return versions[AWS_PROVIDER]


def qualified(source: str) -> str:
    """A required_providers source with Terraform's defaults filled in ("aws" -> registry.../hashicorp/aws)."""
    parts = source.split("/")
    return "/".join([*["registry.terraform.io", "hashicorp"][: 3 - len(parts)], *parts]).lower()


def backend_config(settings: Settings, stack: str) -> dict[str, Any]:
    """The S3 backend block of ``stack`` as ``modules/stacks/base.py`` writes it (use_lockfile included)."""
    return {**settings.backend_config(stack), "use_lockfile": True}


def refusals(stack: str, config: dict[str, Any], settings: Settings, version: str) -> list[str]:
    """Every way ``config`` (one stack's synthesized JSON) leaves the allowlist, one line each."""
    try:
        return [f"{stack}: {problem}" for problem in _problems(stack, config, settings, version)]
    except (AttributeError, TypeError):  # a list or string where cdktf writes an object, deeper down
        return [f"{stack}: the configuration is not nested as cdktf writes it"]


def _problems(stack: str, config: Any, settings: Settings, version: str) -> Iterator[str]:
    # Terraform's JSON syntax also takes arrays in these places; cdktf writes objects, so only objects pass.
    misshapen = _misshapen(config)
    if misshapen:
        yield f"{misshapen} is not a JSON object as cdktf writes it"
        return
    for block in config:
        if block not in TOP_LEVEL:
            yield f"top-level block {block!r} is not allowed (allowed: {', '.join(TOP_LEVEL[1:])})"
    yield from _terraform_block(stack, config.get("terraform", {}), settings, version)
    yield from _providers(config.get("provider", {}), settings)
    for kind in ("resource", "data"):
        for type_, blocks in config.get(kind, {}).items():
            yield from _blocks(kind, type_, blocks, settings)
    yield from _functions(config)


def _misshapen(config: Any) -> str | None:
    """The first place where ``config`` is not the nesting of objects cdktf writes, or None."""
    if not isinstance(config, dict):
        return "the file"
    for block in ("terraform", "provider", "resource", "data"):
        if not isinstance(config.get(block, {}), dict):
            return block
    for kind in ("resource", "data"):
        for type_, blocks in config.get(kind, {}).items():
            if not isinstance(blocks, dict) or not all(isinstance(b, dict) for b in blocks.values()):
                return f"{kind}.{type_}"
    return None


def _terraform_block(stack: str, block: dict[str, Any], settings: Settings, version: str) -> Iterator[str]:
    for key in block:
        if key not in TERRAFORM_SETTINGS:
            yield f"terraform.{key} is not allowed (allowed: {', '.join(TERRAFORM_SETTINGS)})"
    expected = {"s3": backend_config(settings, stack)}
    if block.get("backend") != expected:
        yield f"terraform.backend is {block.get('backend')!r}; allowed: exactly {expected!r}"
    providers = block.get("required_providers", {})
    for name, requirement in providers.items():
        source = requirement.get("source", name) if isinstance(requirement, dict) else name
        wanted = requirement.get("version") if isinstance(requirement, dict) else requirement
        if name != "aws" or qualified(source) != AWS_PROVIDER:
            yield f"terraform.required_providers.{name} ({source}) is not allowed (allowed: aws from {AWS_PROVIDER})"
        elif wanted != version:
            yield f"terraform.required_providers.aws.version is {wanted!r}; allowed: exactly {version!r} (the lock file's)"


def _providers(providers: dict[str, Any], settings: Settings) -> Iterator[str]:
    for name, configs in providers.items():
        if name != "aws":
            yield f"provider.{name} is not allowed (allowed: aws)"
            continue
        configs = configs if isinstance(configs, list) else [configs]
        if len(configs) != 1:
            yield f"provider.aws has {len(configs)} configurations; allowed: one"
        for arguments in configs:
            for key in arguments:
                if key not in PROVIDER_ARGUMENTS:
                    yield f"provider.aws.{key} is not allowed (allowed: {', '.join(PROVIDER_ARGUMENTS)})"
            if arguments.get("region") != settings.region:
                yield f"provider.aws.region is {arguments.get('region')!r}; allowed: {settings.region!r}"


def _blocks(kind: str, type_: str, blocks: dict[str, Any], settings: Settings) -> Iterator[str]:
    prefix = "" if kind == "resource" else "data."
    for name, body in blocks.items():
        address = f"{prefix}{type_}.{name}"
        if kind == "resource" and not type_.startswith("aws_"):
            yield f"{address}: resource type {type_!r} is not allowed (allowed: the aws provider's)"
        if kind == "data" and type_ not in DATA_SOURCES:
            yield f"{address}: data source type {type_!r} is not allowed (allowed: {', '.join(sorted(DATA_SOURCES))})"
        for key in FORBIDDEN_IN_BLOCKS:
            if key in body:
                yield f"{address}: {key} is not allowed"
        if body.get("provider", "aws") != "aws":
            yield f"{address}: provider {body['provider']!r} is not allowed (allowed: aws)"
        if type_ == "terraform_remote_state":
            yield from _remote_state(address, body, settings)


def _remote_state(address: str, body: dict[str, Any], settings: Settings) -> Iterator[str]:
    extra = sorted(set(body) - set(REMOTE_STATE_ARGUMENTS))
    if extra:
        yield f"{address}: {', '.join(extra)} not allowed (allowed: backend, config)"
    readable = [settings.backend_config(stack) for stack in REMOTE_STATE_STACKS]
    if body.get("backend") != "s3" or body.get("config") not in readable:
        yield (
            f"{address}: reads {body.get('backend')!r} {body.get('config')!r}; allowed: the S3 state of "
            f"{', '.join(REMOTE_STATE_STACKS)} in this environment, configured as the backend is"
        )


def _functions(config: dict[str, Any]) -> Iterator[str]:
    for path, text in _strings(config, ()):
        if "${" not in text and "%{" not in text:
            continue
        if _FILE_FUNCTION.search(text):
            yield f"{'.'.join(path)}: a function that reads files on the runner is not allowed"
        if "provider::" in text:
            yield f"{'.'.join(path)}: provider-defined functions are not allowed"


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        # "//" too: Terraform ignores it only in block bodies; inside an attribute's object value
        # (tags = {"//": "${file(...)}"}) it is an ordinary key whose value is evaluated.
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, str(index)))
