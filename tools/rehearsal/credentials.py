"""The rehearsal's checks of the credentials an applied data tier implies, and that none is in state.

The system holds three kinds of credential, none written by Terraform: RDS's master password (in
RDS's own secret), SECRET_KEY (an HMAC under a KMS key, derived by the app at start) and Redis
tokens (signed per connection by the app's role, valid 15 minutes). The first two are fetched or
derived here exactly as the app does, and every version of every state object in the state bucket
is searched for them.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from tools.rehearsal.errors import CheckFailed

if TYPE_CHECKING:
    from tools.rehearsal.checks import Applied

MAC_ALGORITHM = "HMAC_SHA_256"


def check_app_credentials(applied: Applied) -> str:
    """Redis admits the configured IAM user and no password; SECRET_KEY derives from the data tier's
    HMAC key and message."""
    cache = applied.client("elasticache")
    for body in applied.stack.resources("aws_elasticache_replication_group").values():
        group_id = body["replication_group_id"]
        (group,) = cache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"]
        if group.get("AuthTokenEnabled"):
            raise CheckFailed(f"{group_id} has an AUTH token; it should admit IAM users only")
        if not group.get("TransitEncryptionEnabled"):
            raise CheckFailed(f"{group_id} accepts plain connections; IAM sign-in needs TLS")
        (user_group_id,) = group.get("UserGroupIds") or [None]
        if user_group_id is None:
            raise CheckFailed(f"{group_id} has no user group")
        (user_group,) = cache.describe_user_groups(UserGroupId=user_group_id)["UserGroups"]
        users = {
            u["UserId"]: u for u in cache.describe_users()["Users"] if u["UserId"] in user_group["UserIds"]
        }
        modes = {u["UserName"]: (u["Authentication"]["Type"], u["AccessString"]) for u in users.values()}
        signing_in = [name for name, (kind, access) in modes.items() if not access.startswith("off")]
        if [modes[name][0] for name in signing_in] != ["iam"] or "default" in signing_in:
            raise CheckFailed(
                f"{group_id}: users that can sign in {modes}; expected one IAM user, default off"
            )
    secret_key = derived_secret_key(applied.client, applied.outputs)
    return f"Redis admits IAM user {signing_in[0]} only (default off); SECRET_KEY derives ({len(secret_key)} hex)"


def derived_secret_key(client, outputs: dict[str, Any]) -> str:
    """SECRET_KEY as the app derives it (hex of the HMAC of the message under the key)."""
    mac = client("kms").generate_mac(
        KeyId=outputs["secret_key_key_arn"],
        Message=outputs["secret_key_message"].encode(),
        MacAlgorithm=MAC_ALGORITHM,
    )["Mac"]
    return mac.hex()


def generated_credentials(applied: Applied) -> dict[str, str]:
    """Every credential the account holds for the app, by what it is: each secret's value (and the
    password inside RDS's JSON secret) and SECRET_KEY, once the data tier is applied."""
    found: dict[str, str] = {}
    secrets = applied.client("secretsmanager")
    for entry in secrets.list_secrets()["SecretList"]:
        value = secrets.get_secret_value(SecretId=entry["ARN"]).get("SecretString") or ""
        found[f"secret {entry['Name']}"] = value
        try:
            password = json.loads(value).get("password")
        except (ValueError, AttributeError):
            password = None
        if password:
            found[f"password in secret {entry['Name']}"] = password
    data_outputs = _data_tier_outputs(applied)
    if data_outputs:
        key = derived_secret_key(applied.client, data_outputs)
        found["SECRET_KEY"] = key
        found["SECRET_KEY (base64)"] = base64.b64encode(bytes.fromhex(key)).decode()
    return found


def _data_tier_outputs(applied: Applied) -> dict[str, Any]:
    """The data tier's outputs: this stack's own, or those it read from the data tier's state."""
    if "secret_key_message" in applied.stack.outputs:
        return applied.outputs
    for producer in applied.producers.values():
        if "secret_key_message" in producer.outputs:
            key = producer.config["terraform"]["backend"]["s3"]["key"]
            state = json.loads(_object(applied, key, None))
            return {name: output["value"] for name, output in state["outputs"].items()}
    return {}


def _object(applied: Applied, key: str, version: str | None) -> str:
    extra = {"VersionId": version} if version else {}
    return applied.client("s3").get_object(Bucket=applied.bucket, Key=key, **extra)["Body"].read().decode()


def check_no_credential_in_state(applied: Applied) -> str:
    """No version of any state object in the bucket holds any credential of ``generated_credentials``."""
    credentials = {label: value for label, value in generated_credentials(applied).items() if len(value) >= 8}
    if not credentials:
        return "no credential exists yet"
    versions = applied.client("s3").list_object_versions(Bucket=applied.bucket).get("Versions", [])
    states = [v for v in versions if v["Key"].endswith(".tfstate")]
    for version in states:
        text = _object(applied, version["Key"], version["VersionId"])
        # As written into the state's JSON too (quotes and backslashes escaped).
        leaked = [
            label for label, value in credentials.items() if value in text or json.dumps(value)[1:-1] in text
        ]
        if leaked:
            raise CheckFailed(
                f"s3://{applied.bucket}/{version['Key']} ({version['VersionId']}) holds {', '.join(leaked)}"
            )
    return f"none of {len(credentials)} credentials ({', '.join(sorted(credentials))}) in {len(states)} state object versions"
