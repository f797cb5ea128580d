"""The emulator: moto in this process, with the gaps this project's stacks hit filled in.

One module per AWS service holds that service's patches; each patch's docstring says what moto 5.2.5
does without it. Each makes moto answer a call the way AWS does; none changes what the stacks ask for.
moto is imported only when the patches are applied, so importing this package stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Self

from tools.rehearsal.emulator import (
    autoscaling,
    ec2,
    ecs,
    elasticache,
    elbv2,
    iam,
    logs,
    rds,
    s3,
    ssm,
    ssm_agents,
)

# In the order docs/rehearsal.md lists them.
EMULATOR_PATCHES: tuple[Callable[[], None], ...] = (
    s3.patch_policy_conditions,
    elasticache.patch_replication_groups,
    elasticache.patch_user_groups,
    autoscaling.patch_tags,
    rds.patch_instances_and_parameters,
    ecs.patch_create_service,
    ecs.patch_update_service_task_definition,
    ec2.patch_rule_descriptions,
    ec2.patch_instance_security_groups,
    ec2.patch_monitor_instances,
    ec2.patch_register_image,
    ec2.patch_network_acl_icmp,
    ec2.patch_retried_rule_authorizations,
    elbv2.patch_deletion_protection,
    elbv2.patch_target_group_attachments,
    logs.patch_kms_association,
    ssm.patch_run_command,
    ssm_agents.patch_instance_information,
    iam.patch_authorization,
)

_patched = False


def patch_moto() -> None:
    """Apply ``EMULATOR_PATCHES`` once. They change moto's classes in this process only."""
    global _patched
    if not _patched:
        for patch in EMULATOR_PATCHES:
            patch()
        _patched = True


class Emulator:
    """moto on a loopback port (a free one unless ``port`` names one) in this process; ``client(service)``
    talks to it with boto3.

    ``errors`` collects the emulator's internal errors (a 500 with a traceback): a running Terraform
    step stops at the first one instead of letting the provider retry it for many minutes.

    IAM is not enforced until ``enforce_iam(True)`` (or inside ``iam_enforced()``); then requests
    signed with a role session's keys (``role_environment``) are checked against the role's policies,
    and the dummy keys of ``client`` and the rehearsal's Terraform runs still act as the account's
    administrator. What that proves and what not: ``tools/rehearsal/emulator/iam.py``. While it is on,
    ``calls(role_arn)`` records what the role's sessions asked for, to keep its policy to what they need.
    """

    def __init__(self, region: str, port: int = 0) -> None:
        self.region, self.port = region, port
        self.url = ""
        self.errors: list[str] = []
        self._server: Any = None
        self._saved_iam_config: Any = None
        self._saved_enforcement: tuple[float, int] | None = None

    def __enter__(self) -> Self:
        from flask import got_request_exception
        from moto.core.config import default_user_config
        from moto.moto_api._internal.models import moto_api_backend
        from moto.server import ThreadedMotoServer

        patch_moto()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
        # AWS's managed policies exist in every account (the stacks attach two); moto loads them on request.
        self._saved_iam_config = default_user_config.get("iam")
        default_user_config["iam"] = {**(self._saved_iam_config or {}), "load_aws_managed_policies": True}
        self._saved_enforcement = _enforcement()
        self.enforce_iam(False)
        moto_api_backend.reset()  # a fresh account, whatever ran in this process before
        iam.forget_calls()
        got_request_exception.connect(self._record_error)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        from flask import got_request_exception
        from moto.core.config import default_user_config

        got_request_exception.disconnect(self._record_error)
        if self._server is not None:
            self._server.stop()
            self._server = None
            if self._saved_iam_config is None:
                default_user_config.pop("iam", None)
            else:
                default_user_config["iam"] = self._saved_iam_config
            if self._saved_enforcement is not None:
                _set_enforcement(*self._saved_enforcement)

    def _record_error(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        from flask import request

        self.errors.append(
            f"{request.method} {request.host}{request.path} "
            f"{request.headers.get('X-Amz-Target') or request.values.get('Action', '')}\n"
            + "".join(traceback.format_exception(exception)[-4:])
        )

    def client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        """A boto3 client; ``credentials`` (``role_environment``'s) sign as that role, else the admin."""
        return emulator_client(service, self.url, self.region, credentials)

    def enforce_iam(self, on: bool) -> None:
        """Check every request against its signer's policies (on) or none (off, the default).

        This is moto's own switch (``INITIAL_NO_AUTH_ACTION_COUNT``), so it holds for the whole
        process, like moto's state; the admin's dummy keys pass either way.
        """
        _set_enforcement(0 if on else float("inf"), 0)

    @contextlib.contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """Enforcement on for the ``with`` block, off again however it ends."""
        self.enforce_iam(True)
        try:
            yield
        finally:
            self.enforce_iam(False)

    def calls(self, role_arn: str) -> list[iam.Call]:
        """What sessions of the role (``arn:aws:iam::ACCOUNT:role/NAME``) asked for while enforcement was
        on, in request order: each action as IAM names it, its resource and whether it was allowed."""
        return iam.calls(role_arn)

    def forget_calls(self) -> None:
        """Empty the record ``calls`` reads, for every role."""
        iam.forget_calls()

    def role_environment(self, role_arn: str, session_name: str = "rehearsal") -> dict[str, str]:
        """``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` of a fresh session of
        the role, taken the way GitHub's OIDC federation takes it: an unsigned
        AssumeRoleWithWebIdentity (moto checks neither the token nor the role's trust policy)."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        # moto hands out a session for any ARN; one of a missing role would just be denied everything.
        self.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])
        sts = boto3.client(
            "sts",
            endpoint_url=self.url,
            region_name=self.region,
            config=Config(signature_version=UNSIGNED, proxies={}),
        )
        session = sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken="rehearsal"
        )["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
            "AWS_SESSION_TOKEN": session["SessionToken"],
        }


def _enforcement() -> tuple[float, int]:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count


def _set_enforcement(initial_no_auth_action_count: float, request_count: int) -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = initial_no_auth_action_count
    ActionAuthenticatorMixin.request_count = request_count


def emulator_client(service: str, url: str, region: str, credentials: Mapping[str, str] | None = None) -> Any:
    """A boto3 client of the emulator at ``url`` (this process's or a served one): the admin's dummy
    credentials, or ``credentials`` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)."""
    import boto3
    from botocore.config import Config

    keys = credentials or {
        "AWS_ACCESS_KEY_ID": iam.ADMIN_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        # proxies={}: straight to the loopback address, whatever proxy the environment names.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, proxies={}),
    )
