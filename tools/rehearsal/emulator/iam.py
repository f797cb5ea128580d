"""IAM enforcement: requests signed with a role session's keys are checked against that role's policies.

What moto 5.2.5 does (moto/core/authorization.py, moto/iam/access_control.py), measured on this
emulator with a role session's keys:

- Switch: every request is checked once ``ActionAuthenticatorMixin.request_count`` reaches
  ``settings.INITIAL_NO_AUTH_ACTION_COUNT`` (infinite by default; ``POST /moto-api/reset-auth`` or
  ``Emulator.enforce_iam`` set it). Only keys moto issued are known: an IAM user's access key or an
  assumed-role session (AssumeRole, AssumeRoleWithWebIdentity); anything else, including the
  rehearsal's dummy ``testing`` keys, is refused as an invalid token. A session's policies are its
  role's inline and attached policies; session policies, permission boundaries, resource policies
  (bucket, key, secret policies) and trust policies of AssumeRoleWithWebIdentity are not evaluated.
- Services: all that dispatch through moto's ``BaseResponse`` enforce; measured denials for ec2, s3,
  iam, kms, secretsmanager, rds, elasticache, logs, ecs, ecr, ssm, elbv2, sns, cloudwatch,
  application-autoscaling, acm, route53, events and wafv2. ``sts:GetCallerIdentity`` is always allowed.
- Action name: ``<SigV4 signing name>:<operation>`` (the ``Action`` parameter, the ``X-Amz-Target``
  operation, or the REST operation matched from method and path). S3 uses its own table of
  method + subresource. Matching is case-sensitive and treats ``.``/``?`` in patterns as regex.
- Resource: only S3 (bucket and object ARNs), IAM (role ARN for role operations, else ``*``), STS
  (role ARN for AssumeRole) and SQS pass one; every other service checks ``*``, so a statement whose
  Resource lists ARNs never matches there: an ARN-scoped Allow grants nothing.
- Conditions: identity-policy statements are checked without request context, so every condition
  passes (the statement applies as if it held). Explicit Deny wins over any Allow; NotAction works;
  a statement without ``Resource`` (one with NotResource) allows every resource, even as a Deny.
- Denials are one XML shape (``<ErrorResponse><Errors><Error>``) for every service. Clients of
  JSON-protocol services (kms, secretsmanager, logs, ecs, ecr, ssm, acm, events, wafv2,
  application-autoscaling) cannot parse it (boto3 shows code ``403``; the Terraform provider fails
  with "deserialization failed ... invalid character '<'"), and the Go SDK of the Terraform provider
  finds no code in it for query and REST-XML services either (iam, sns, rds, route53...: "api error
  UnknownError"); boto3 reads it for those.
- Gaps that deny what AWS allows: HEAD bucket is checked as ``s3:HeadBucket`` (AWS: ``s3:ListBucket``);
  bucket GET/PUT/DELETE of ``publicAccessBlock``, ``encryption``, ``replication``,
  ``ownershipControls``, ``object-lock``, ``requestPayment`` and more fall back to ``s3:ListBucket`` /
  ``s3:CreateBucket`` / ``s3:DeleteBucket``; CloudWatch is checked as ``monitoring:*`` (its signing
  name; AWS: ``cloudwatch:*``); a request without a body (every Route 53 GET) has its signature
  recomputed over the wrong payload, so it always fails with SignatureDoesNotMatch. A
  ``terraform plan`` with ``ReadOnlyAccess`` hits all three (an ``aws_s3_bucket``, an alarm, a zone),
  and needs ``secretsmanager:GetSecretValue`` for every ``aws_secretsmanager_secret_version``: an
  ARN-scoped Allow of it grants nothing on moto alone.

``patch_authorization`` fills those gaps. With it, what the emulator proves:

- Proven (tests/test_rehearsal_emulator_iam.py): which actions a role may call, by AWS's action
  names, with Allow/Deny/NotAction/NotResource, ``*`` and ``?`` wildcards and case-insensitive
  action matching; resource scoping of S3 buckets and objects, of IAM role operations, of
  AssumeRole (the resource ARNs moto gives) and of SSM parameters: the operations of
  ``_SSM_PARAMETER_FIELDS`` are checked on each named parameter's ARN (``GetParameters`` is refused
  if any of its names is), ``GetParametersByPath`` on the path's.
- NOT proven: resource scoping elsewhere, including SSM's other operations (``DescribeParameters``,
  Run Command, documents). There a statement is matched on its actions alone (its
  Resource/NotResource is not consulted), so a role allowed ``secretsmanager:GetSecretValue`` on one
  secret can read every secret on the emulator, while AWS would deny the others; and
  conditions (``kms:ResourceAliases``, ``iam:PassedToService``, ...): a statement with a condition
  is left to moto's own evaluation (with ``aws:SecureTransport`` true, s3.py), which has no value
  for such keys, so the statement does not apply: a conditional Allow grants nothing here.
  Cross-service checks (kms:Decrypt behind an SSE-KMS object, iam:PassRole behind RegisterTaskDefinition)
  are not made at all, nor are the policies moto ignores (first list). A request with no
  ``Authorization`` header other than AssumeRoleWithWebIdentity/SAML (an S3 presigned URL) fails
  with a 500 while enforcement is on.

While enforcement is on, every decision on a role session's request is recorded (``calls``): the
action as IAM names it, the resource it was checked on and whether it was allowed, so a rehearsal
can tell which actions a ``terraform plan`` needed. A request checked on several resources
(``GetParameters``) records one decision per resource, up to the first denial.

The rehearsal's own requests, signed with ``ADMIN_ACCESS_KEY_ID``, stand for the account's
administrator and are not checked, so its set-up and checks work while enforcement is on.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

# The emulator's administrator: the dummy keys of the rehearsal's Terraform runs and boto3 clients.
ADMIN_ACCESS_KEY_ID = "testing"
# Callable without credentials on AWS: the session's permissions come from the role, not the caller.
_UNSIGNED_OPERATIONS = {"sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"}
# IAM's service prefix where it differs from the SigV4 signing name moto builds the action from.
_IAM_PREFIXES = {"monitoring": "cloudwatch"}
# S3 subresources moto's ACTION_MAP lacks (or spells as a query key no request has), by AWS's actions.
_S3_BUCKET_ACTIONS = {
    "HEAD": {"DEFAULT": "ListBucket"},
    "GET": {
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "encryption": "GetEncryptionConfiguration",
        "replication": "GetReplicationConfiguration",
        "ownershipControls": "GetBucketOwnershipControls",
        "object-lock": "GetBucketObjectLockConfiguration",
        "requestPayment": "GetBucketRequestPayment",
        "intelligent-tiering": "GetIntelligentTieringConfiguration",
        "inventory": "GetInventoryConfiguration",
        "analytics": "GetAnalyticsConfiguration",
        "metrics": "GetMetricsConfiguration",
    },
    "PUT": {
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "encryption": "PutEncryptionConfiguration",
        "replication": "PutReplicationConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "object-lock": "PutBucketObjectLockConfiguration",
        "requestPayment": "PutBucketRequestPayment",
    },
    "DELETE": {
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "encryption": "PutEncryptionConfiguration",
        "replication": "PutReplicationConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
    },
}
_S3_KEY_ACTIONS = {
    "GET": {
        "attributes": "GetObjectAttributes",
        "retention": "GetObjectRetention",
        "legal-hold": "GetObjectLegalHold",
    },
    "PUT": {"retention": "PutObjectRetention", "legal-hold": "PutObjectLegalHold"},
    "DELETE": {"tagging": "DeleteObjectTagging"},
}
# SSM's parameter operations, by the request field naming the parameters (AWS checks each one's ARN).
_SSM_PARAMETER_FIELDS = {
    "GetParameter": "Name",
    "GetParameterHistory": "Name",
    "PutParameter": "Name",
    "DeleteParameter": "Name",
    "LabelParameterVersion": "Name",
    "UnlabelParameterVersion": "Name",
    "GetParameters": "Names",
    "DeleteParameters": "Names",
    "GetParametersByPath": "Path",
    # when ResourceType is Parameter
    "AddTagsToResource": "ResourceId",
    "ListTagsForResource": "ResourceId",
    "RemoveTagsFromResource": "ResourceId",
}
# moto's authentication errors by the names AWS gives them in each protocol family.
_ERROR_CODES = {
    "json": {
        "AccessDenied": "AccessDeniedException",
        "InvalidClientTokenId": "UnrecognizedClientException",
        "SignatureDoesNotMatch": "InvalidSignatureException",
    },
    "ec2": {"AccessDenied": "UnauthorizedOperation"},
}


@dataclass(frozen=True)
class Call:
    """One authorization decision on a role session's request: the action as IAM names it, the
    resource it was checked on (``*`` where the service names none) and the decision."""

    action: str
    resource: str
    allowed: bool


# Decisions by role ARN, in the order they were made; the server decides on its request threads.
_calls: dict[str, list[Call]] = {}
_calls_lock = threading.Lock()


def calls(role_arn: str) -> list[Call]:
    """The decisions on requests signed by sessions of the role ``arn:aws:iam::ACCOUNT:role/NAME``."""
    with _calls_lock:
        return list(_calls.get(role_arn, []))


def forget_calls() -> None:
    with _calls_lock:
        _calls.clear()


def patch_authorization() -> None:
    """Authorization as AWS decides it, for the calls the rehearsal's roles make (module docstring).

    Without it moto denies ``s3:HeadBucket`` where AWS checks ``s3:ListBucket`` (and checks most
    bucket subresources as ``s3:ListBucket``), checks CloudWatch as ``monitoring:*``, fails every
    Route 53 GET on its own signature check, lets no ARN-scoped Allow grant anything outside S3/IAM/STS
    (now SSM parameter operations are checked on the parameters' ARNs, other services' on actions alone),
    treats a NotResource statement as matching everything, refuses the rehearsal's own dummy keys
    and AssumeRoleWithWebIdentity (unsigned, so moto fails with a 500) once enforcement is on, and
    answers every denial in one XML shape that the provider's clients cannot read (now each
    protocol's own: JSON ``AccessDeniedException``, query/REST-XML ``<Error>``, EC2's
    ``UnauthorizedOperation``). Nothing changes while enforcement is off.
    """
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import ServiceException, _RESTError
    from moto.core.utils import get_service_model
    from moto.iam.access_control import (
        AssumedRoleAccessKey,
        IAMPolicyStatement,
        IAMRequestBase,
        PermissionResult,
    )
    from moto.s3.responses import ACTION_MAP

    for method, actions in _S3_BUCKET_ACTIONS.items():
        ACTION_MAP["BUCKET"][method].update(actions)
    for method, actions in _S3_KEY_ACTIONS.items():
        ACTION_MAP["KEY"][method].update(actions)

    original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action
    original_init = IAMRequestBase.__init__
    original_aws_request = IAMRequestBase._create_aws_request
    original_statement = IAMPolicyStatement.is_action_permitted
    original_check = IAMRequestBase.check_action_permitted

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            return original_authorize(self, iam_request_cls, resource)  # not enforcing: moto counts
        if _access_key_id(self.headers.get("Authorization", "")) == ADMIN_ACCESS_KEY_ID:
            return None
        if (
            "Authorization" not in self.headers
            and f"{self.service_name}:{self._get_action()}" in _UNSIGNED_OPERATIONS
        ):
            return None
        # moto checks SSM on "*"; AWS on each parameter the request names, so each must be allowed.
        resources = _ssm_resources(self) if self.service_name == "ssm" else [resource]
        try:
            for each in resources:
                original_authorize(self, iam_request_cls, each)
        except _RESTError as error:
            if self.service_name != "s3":  # S3 raises its own errors, in its own format
                _in_aws_format(error, _protocol(self, get_service_model), self.response_headers)
            raise

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        service, _, operation = self._action.partition(":")
        self._action = f"{_IAM_PREFIXES.get(service, service)}:{operation}"

    def create_aws_request(self: Any) -> Any:
        request = original_aws_request(self)
        if self._method in ("GET", "HEAD", "DELETE"):
            # Signed over the (empty) body; moto signs its parsed parameters when the body is empty, which
            # is right for a form POST (moto keeps no raw body there) but not for Route 53's headers.
            request.data = self._body or b""
        return request

    def check_action_permitted(self: Any, resource: str) -> None:
        key = self._access_key
        if not isinstance(key, AssumedRoleAccessKey):  # an IAM user's keys
            return original_check(self, resource)
        role_arn = f"arn:{key.partition}:iam::{key.account_id}:role/{key._owner_role_name}"
        try:
            original_check(self, resource)
        except (_RESTError, ServiceException):  # a denial (S3's are ServiceExceptions)
            _record(role_arn, Call(self._action, resource, allowed=False))
            raise
        _record(role_arn, Call(self._action, resource, allowed=True))

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        if principal is not None or incoming_condition_values is not None or "Condition" in self._statement:
            # A role's trust policy (sts:AssumeRole), or a statement with a condition, such as the
            # state bucket's TLS-only deny: moto's own evaluation, with s3.py's condition values.
            return original_statement(self, action, resource, principal, incoming_condition_values)
        statement = self._statement
        if "NotAction" in statement:
            concerned = not _matches(statement["NotAction"], action, ignore_case=True)
        else:
            concerned = _matches(statement.get("Action", []), action, ignore_case=True)
        # resource "*": the service gave moto none, so the statement is matched on its actions only.
        if concerned and resource != "*":
            if "NotResource" in statement:
                concerned = not _matches(statement["NotResource"], resource, ignore_case=False)
            else:
                concerned = _matches(statement.get("Resource", []), resource, ignore_case=False)
        if not concerned:
            return PermissionResult.NEUTRAL
        return PermissionResult.PERMITTED if statement.get("Effect") == "Allow" else PermissionResult.DENIED

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize
    IAMRequestBase.__init__ = init
    IAMRequestBase._create_aws_request = create_aws_request
    IAMRequestBase.check_action_permitted = check_action_permitted
    IAMPolicyStatement.is_action_permitted = is_action_permitted


def _record(role_arn: str, call: Call) -> None:
    with _calls_lock:
        _calls.setdefault(role_arn, []).append(call)


def _ssm_resources(response: Any) -> list[str]:
    """The ARNs of the parameters an SSM request names (``["*"]`` when it names none). A name may be a
    full ARN, and may end in a version or label selector (``name:3``), which is not part of the ARN."""
    from moto.ssm.utils import parameter_arn

    field = _SSM_PARAMETER_FIELDS.get(response._get_action())
    if field is None or (field == "ResourceId" and response._get_param("ResourceType") != "Parameter"):
        return ["*"]
    value = response._get_param(field) or []
    names = [value] if isinstance(value, str) else value
    arns = [
        ":".join(name.split(":")[:6])
        if name.startswith("arn:")
        else parameter_arn(response.current_account, response.region, name.split(":")[0])
        for name in names
    ]
    return arns or ["*"]


def _access_key_id(authorization: str) -> str:
    """The access key of a SigV4 ``Authorization`` header ("" when there is none)."""
    match = re.search(r"Credential=([^/]+)/", authorization)
    return match.group(1) if match else ""


def _protocol(response: Any, get_service_model: Any) -> str:
    """The request's protocol family: json, ec2 or xml (query, rest-xml)."""
    protocol = get_service_model(response.boto3_service_name).metadata.get("protocol", "")
    # A service may speak JSON and query both; the request's body says which.
    if "json" in response.headers.get("Content-Type", "") or protocol in ("json", "rest-json"):
        return "json"
    return "ec2" if protocol == "ec2" else "xml"


def _in_aws_format(error: Any, protocol: str, response_headers: dict[str, str]) -> None:
    """Rewrites moto's denial (query-style XML whatever the service) as the service's clients read it.
    Only the body and status survive moto's handling of it, so the headers join the response's."""
    code = _ERROR_CODES.get(protocol, {}).get(error.error_type, error.error_type)
    message = escape(error.message)
    if protocol == "json":
        response_headers.update({"Content-Type": "application/x-amz-json-1.1", "X-Amzn-ErrorType": code})
        error.description = json.dumps({"__type": code, "message": error.message})
    elif protocol == "ec2":
        response_headers["Content-Type"] = "text/xml"
        error.description = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>emulator</RequestID></Response>"
        )
    else:
        response_headers["Content-Type"] = "text/xml"
        error.description = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>emulator</RequestId></ErrorResponse>"
        )


def _matches(patterns: str | list[str], value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character, nothing else special."""
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        if re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0):
            return True
    return False
