"""Old versions of the stacks' state that still hold a secret value, and their removal.

    python -m tools.state_versions [STACK ...]            # list them (exit 1 when there are any)
    python -m tools.state_versions --delete [STACK ...]   # delete them

The state bucket keeps every version for 90 days. A deployment made before the app signed in with
IAM tokens kept the Redis AUTH token and ``SECRET_KEY`` in Secrets Manager secret versions written by
Terraform, and so in clear in the state; the upgrade removes them from the current state, but the
versions from before still hold them until they expire. This finds the versions of each remote-state
stack's object (``<environment>/<stack>/terraform.tfstate`` in the settings' ``state_bucket``) that
hold a resource of a type that keeps a secret value in state, or a non-empty ``auth_token``, and
deletes exactly those (never the current version: that one is fixed by applying this project). It
reads the settings as ``main.py`` does, so ``HOMU_ENDPOINT_URL`` points it at the emulator too. It
needs ``s3:ListBucketVersions``, ``s3:GetObjectVersion`` and ``kms:Decrypt`` on the state key, and
``s3:DeleteObjectVersion`` to delete.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from modules.names import REMOTE_STATE_STACKS
from modules.settings import Settings, SettingsError, load_settings

# Resource types whose state holds a secret value in clear (what the project wrote before IAM).
SECRET_TYPES = frozenset({"aws_secretsmanager_secret_version", "random_password"})
SECRET_ATTRIBUTES = ("auth_token",)


@dataclass(frozen=True)
class Finding:
    key: str
    version_id: str
    modified: str
    current: bool
    holds: tuple[str, ...]  # the resources, as type.name, and why

    def line(self) -> str:
        which = "current" if self.current else "old"
        return f"{self.key} {which} version {self.version_id} ({self.modified}): {', '.join(self.holds)}"


def secrets_held(state: dict[str, Any]) -> tuple[str, ...]:
    """The resources of a state (the JSON a backend stores) that keep a secret value."""
    held = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        name = f"{resource.get('type')}.{resource.get('name')}"
        if resource.get("type") in SECRET_TYPES:
            held.append(f"{name} (a secret value)")
            continue
        for instance in resource.get("instances", []):
            attributes = instance.get("attributes") or {}
            if any(attributes.get(attribute) for attribute in SECRET_ATTRIBUTES):
                held.append(f"{name} ({'/'.join(a for a in SECRET_ATTRIBUTES if attributes.get(a))})")
                break
    return tuple(held)


def findings(s3: Any, bucket: str, key: str) -> Iterator[Finding]:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in page.get("Versions", []):
            if version["Key"] != key:
                continue
            body = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
            try:
                state = json.loads(body)
            except ValueError:
                continue  # not a state (the lock file lives under another key)
            held = secrets_held(state)
            if held:
                yield Finding(
                    key, version["VersionId"], version["LastModified"].isoformat(), version["IsLatest"], held
                )


def s3_client(settings: Settings) -> Any:
    extra = {"endpoint_url": settings.endpoint_url} if settings.endpoint_url else {}
    return boto3.client("s3", region_name=settings.region, **extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.state_versions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "stacks", nargs="*", metavar="STACK", help=f"default: {' '.join(REMOTE_STATE_STACKS)}"
    )
    parser.add_argument("--delete", action="store_true", help="delete the old versions found")
    args = parser.parse_args(argv)
    for stack in args.stacks:
        if stack not in REMOTE_STATE_STACKS:
            parser.error(f"stack {stack!r}: allowed: {', '.join(REMOTE_STATE_STACKS)}")
    try:
        settings = load_settings()
    except SettingsError as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    s3 = s3_client(settings)
    found: list[Finding] = []
    try:
        for stack in args.stacks or REMOTE_STATE_STACKS:
            found += findings(s3, settings.state_bucket, settings.state_key(stack))
        old = [finding for finding in found if not finding.current]
        for finding in found:
            print(finding.line())
            if args.delete and not finding.current:
                s3.delete_object(Bucket=settings.state_bucket, Key=finding.key, VersionId=finding.version_id)
                print(f"  deleted {finding.version_id}")
    except (ClientError, BotoCoreError) as error:
        print(f"error: s3://{settings.state_bucket}: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    for finding in found:
        if finding.current:
            print(
                f"error: the current state of {finding.key} still holds a secret: apply this project's "
                f"{finding.key.split('/')[1]} first, then run this again",
                file=sys.stderr,
            )
    if not found:
        print(f"no version of {len(args.stacks or REMOTE_STATE_STACKS)} state object(s) holds a secret value")
    elif old and not args.delete:
        print(f"{len(old)} old version(s) hold a secret value; delete them with --delete")
    return 1 if any(f.current for f in found) or (old and not args.delete) else 0


if __name__ == "__main__":
    sys.exit(main())
