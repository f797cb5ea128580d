#!/usr/bin/env python
"""Deploy rehearsal: every stack through init, plan, apply, checks, a clean re-plan and destroy, on a
local AWS emulator.

    pipenv run rehearse                               # the default settings, every stack
    pipenv run rehearse --config production           # environments/prod.json
    pipenv run rehearse --stacks homu-ec2             # homu-state and only this application stack
    pipenv run rehearse --keep --report out.json      # keep the work directory; write a JSON report

Starts moto in this process on a free loopback port, with the patches below (``EMULATOR_PATCHES``)
that fill the gaps of moto 5.2.5 this project's stacks run into, synthesizes the stacks with the
project's own code for that configuration plus ``REHEARSAL_SETTINGS`` into a temporary directory, and
runs, in order:

* ``homu-state``: init, plan, apply, re-plan (its local state lands in the temporary directory);
* ``homu-fargate``, then ``homu-ec2``, on the S3 backend in the bucket ``homu-state`` created: init,
  plan, apply, checks against the emulator, re-plan, (unprotect,) destroy, leftover check;
* ``homu-state`` last: a plain destroy must be refused by ``prevent_destroy``; the rehearsal then
  removes that lifecycle from its staged copy only, empties the bucket and destroys it.

The re-plan is ``plan -detailed-exitcode`` and must report no changes: a perpetual diff fails the
rehearsal like an apply error does (the other stacks still run, so one run shows every diff). A
configuration with deletion protection (production) is torn down the way an operator would: the same
configuration with ``deletion_protection = false`` is applied first ("unprotect"), which must change
resources in place only, and then destroyed.

Checks after each application stack's apply, through boto3 against the emulator: the security-group
rules group by group exactly as designed; the database private, encrypted and Multi-AZ as configured;
deletion protection as configured; the four app secrets present with values (URLs pointing at the
real endpoints, the write-only secret key absent from the state); the state object under its key
with every resource and no lock left; and S3-native locking: while one Terraform holds the lock its
``.tflock`` object exists and a second Terraform is refused, and the object is gone afterwards.
After each destroy nothing of the stack may be left (secrets not even scheduled for deletion, so the
names can be reused at once).

Only ever talks to 127.0.0.1: the endpoint setting accepts loopback URLs only, boto3 is given the
emulator's URL and no proxy, and Terraform runs with HTTP(S)_PROXY on a closed loopback port, so a
request that escaped the endpoint overrides fails on this machine instead of leaving it.

Exit status: 0 when every step passed; 1 when a step failed (named with its stack and step, with
Terraform's own diagnostics or the emulator's traceback); 2 on bad arguments; 130 when interrupted
(Ctrl-C or SIGTERM: Terraform and the emulator are stopped and the work directory removed first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from modules.settings import Settings, validate  # noqa: E402  (after the path is set)

PRODUCTION_FILE = ROOT / "environments" / "prod.json"
CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {
    "default": dict,
    "production": lambda: json.loads(PRODUCTION_FILE.read_text()),
}
STATE_STACK, FARGATE_STACK, EC2_STACK = "homu-state", "homu-fargate", "homu-ec2"
STACKS = (STATE_STACK, FARGATE_STACK, EC2_STACK)
PROVIDER_MIRROR = Path("/opt/tf-plugins")

# What the rehearsal sets on top of the configuration it rehearses, besides endpoint_url (the emulator).
REHEARSAL_SETTINGS: dict[str, Any] = {
    # The emulator has no Canonical images. The rehearsal registers an image under the production name
    # pattern in the emulator's own account, so only the owner of the lookup changes.
    "ami_owner": "self",
}
REHEARSAL_AMI_NAME = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20260101-rehearsal"

# Time limit of each Terraform step, in seconds; measured runs take a fraction (README "Deploy rehearsal").
TIMEOUTS = {
    "init": 300, "plan": 600, "apply": 1200, "re-plan": 600, "unprotect": 1200, "destroy": 1200,
    "lock": 300, "show": 120,
}  # fmt: skip
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
APPLIED = re.compile(r"Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed")
DESTROYED = re.compile(r"Destroy complete! Resources: (\d+) destroyed")


class RehearsalError(Exception):
    """A failed step: which stack, which step, what went wrong and Terraform's own output."""

    def __init__(self, stack: str, step: str, message: str, output: str = "") -> None:
        self.stack, self.step, self.message, self.output = stack, step, message, output
        text = f"{stack}: {step} failed: {message}"
        if output.strip():
            text += "\n" + output.rstrip()
        super().__init__(text)


@dataclass
class StackResult:
    name: str
    created: int = 0
    destroyed: int | None = None
    clean: bool | None = None
    seconds: float = 0.0
    checks: list[str] = field(default_factory=list)
    # (step, seconds, what it reported), in order
    steps: list[tuple[str, float, str]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# The emulator: moto in this process, with the gaps this project's stacks hit filled in.
# ------------------------------------------------------------------------------------------------

_PATCHED = False


def patch_moto() -> None:
    """Apply ``EMULATOR_PATCHES`` once. They change moto's classes in this process only.

    Each makes moto answer a call the way AWS does; none changes what the stacks ask for.
    """
    global _PATCHED
    if not _PATCHED:
        for patch in EMULATOR_PATCHES:
            patch()
        _PATCHED = True


def _patch_policy_conditions() -> None:
    """Bucket policies: a statement whose condition does not hold does not apply, and requests count
    as sent over TLS (``aws:SecureTransport`` true).

    moto evaluates a matching statement as an explicit deny when its condition does not hold, and
    ignores the ``Bool`` operator, so the state bucket's TLS-only statement (deny when
    ``aws:SecureTransport`` is false) denied every object request, and the S3 backend could not read
    or write state. Terraform reaches AWS over HTTPS; it reaches the emulator over plain HTTP only
    because the emulator listens on loopback.
    """
    from moto.iam import policy_conditions
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    def boolean(expected: Any, actual: str) -> bool:
        wanted = expected if isinstance(expected, list) else [expected]
        return str(actual).lower() in [str(value).lower() for value in wanted]

    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", boolean)
    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        values = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        if self._statement.get("Condition") and not self._check_conditions(values):
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted


def _patch_elasticache() -> None:
    """A cluster-mode-disabled replication group gets its member cache clusters, and goes away on delete.

    moto builds the member ids of a replication group (``homu-redis-001``, ...) but creates no cache
    clusters behind them, so the provider's read-back (DescribeCacheClusters on each member) fails
    with CacheClusterNotFound; it also sizes the group from ``ReplicasPerNodeGroup`` only, ignoring
    ``NumCacheClusters`` (one node where production asks for two), and a deleted group stays in
    ``deleting`` forever, so ``destroy`` would wait for its 40-minute timeout. Members also get what
    DescribeCacheClusters reports (encryption, security groups, parameter group), and
    DeleteCacheSubnetGroup, which moto lacks, is added.
    """
    from moto.core.responses import EmptyResult
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    original_create = ElastiCacheBackend.create_replication_group
    original_delete = ElastiCacheBackend.delete_replication_group

    def create_replication_group(self, *args: Any, **kwargs: Any):
        if (kwargs.get("cluster_mode") or "disabled") == "disabled" and not kwargs.get(
            "replicas_per_node_group"
        ):
            kwargs["replicas_per_node_group"] = max(int(kwargs.get("num_cache_clusters") or 1) - 1, 0)
        group = original_create(self, *args, **kwargs)
        for member in group.node_groups[0]["node_group_members"] if group.cluster_mode == "disabled" else []:
            self.create_cache_cluster(
                cache_cluster_id=member["cache_cluster_id"], replication_group_id=group.replication_group_id,
                az_mode="single-az", preferred_availability_zone=member.get("preferred_availability_zone"),
                num_cache_nodes=1,
                cache_node_type=group.cache_node_type, engine=group.engine, engine_version=group.engine_version,
                cache_parameter_group_name=group.cache_parameter_group_name,
                cache_subnet_group_name=group.cache_subnet_group_name,
                transit_encryption_enabled=group.transit_encryption_enabled, network_type=group.network_type,
                ip_discovery=group.ip_discovery, snapshot_name=None,
                preferred_maintenance_window=group.preferred_maintenance_window, port=group.port,
                notification_topic_arn=group.notification_topic_arn,
                auto_minor_version_upgrade=group.auto_minor_version_upgrade,
                snapshot_retention_limit=group.snapshot_retention_limit, snapshot_window=group.snapshot_window,
                auth_token=kwargs.get("auth_token"), outpost_mode=None, preferred_outpost_arn=None,
                preferred_availability_zones=None, cache_security_group_names=None,
                security_group_ids=group.security_group_ids, tags=None, snapshot_arns=None,
                preferred_outpost_arns=None, log_delivery_configurations=[], cache_node_ids_to_remove=None,
                cache_node_ids_to_reboot=None,
            )  # fmt: skip
            cluster = self.cache_clusters[member["cache_cluster_id"]]
            # What DescribeCacheClusters reports for a member and moto leaves out; the provider reads
            # the group's encryption and security groups from its first member.
            cluster.at_rest_encryption_enabled = group.at_rest_encryption_enabled
            cluster.transit_encryption_mode = group.transit_encryption_mode or (
                "required" if group.transit_encryption_enabled else None
            )
            cluster.security_groups = [
                {"SecurityGroupId": sg, "Status": "active"} for sg in group.security_group_ids or []
            ]
            cluster.cache_parameter_group = {
                "CacheParameterGroupName": group.cache_parameter_group_name
                or f"default.redis{str(group.engine_version or '7').split('.')[0]}",
                "ParameterApplyStatus": "in-sync", "CacheNodeIdsToReboot": [],
            }  # fmt: skip
        return group

    def delete_replication_group(self, replication_group_id: str, retain_primary_cluster: bool | None):
        group = original_delete(self, replication_group_id, retain_primary_cluster)
        # AWS finishes the deletion in the background; the emulator finishes it at once.
        self.replication_groups.pop(replication_group_id, None)
        for cluster_id in [
            c
            for c, cluster in self.cache_clusters.items()
            if getattr(cluster, "replication_group_id", None) == replication_group_id
        ]:
            self.cache_clusters.pop(cluster_id)
        return group

    def delete_cache_subnet_group(self):
        name = self._get_param("CacheSubnetGroupName")
        backend = self.elasticache_backend
        if name not in backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        backend.cache_subnet_groups.pop(name)
        return EmptyResult()

    ElastiCacheBackend.create_replication_group = create_replication_group
    ElastiCacheBackend.delete_replication_group = delete_replication_group
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group


def _patch_register_image() -> None:
    """RegisterImage keeps its Architecture and VirtualizationType (moto drops them, so no filter matches)."""
    from moto.ec2.responses.amis import AmisResponse

    original = AmisResponse.register_image

    def register_image(self):
        result = original(self)
        image = self.ec2_backend.amis[result.result["ImageId"]]
        image.architecture = self._get_param("Architecture") or image.architecture
        image.virtualization_type = self._get_param("VirtualizationType") or image.virtualization_type
        image.root_device_name = self._get_param("RootDeviceName") or image.root_device_name
        return result

    AmisResponse.register_image = register_image


def _patch_application_autoscaling_tags() -> None:
    """Application Auto Scaling keeps the tags of a scalable target.

    moto accepts ``Tags`` on RegisterScalableTarget but drops them and implements neither
    ListTagsForResource nor TagResource/UntagResource; the provider reads the tags back after every
    create (its default tags apply to the target) and retried the 500 for many minutes.
    """
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as Response

    def tags(response: Any) -> dict[str, dict[str, str]]:
        return response.applicationautoscaling_backend.__dict__.setdefault("rehearsal_tags", {})

    original_register = Response.register_scalable_target

    def register_scalable_target(self):
        body = original_register(self)
        if self._get_param("Tags"):
            tags(self).setdefault(json.loads(body)["ScalableTargetARN"], {}).update(self._get_param("Tags"))
        return body

    def list_tags_for_resource(self):
        return json.dumps({"Tags": tags(self).get(self._get_param("ResourceARN"), {})})

    def tag_resource(self):
        tags(self).setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self):
        current = tags(self).setdefault(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            current.pop(key, None)
        return json.dumps({})

    Response.register_scalable_target = register_scalable_target
    Response.list_tags_for_resource = list_tags_for_resource
    Response.tag_resource = tag_resource
    Response.untag_resource = untag_resource


def _patch_rds() -> None:
    """RDS keeps Performance Insights settings given at creation and reports user-set parameters
    with ``Source: user``.

    moto ignores ``EnablePerformanceInsights`` (and its key and retention) on CreateDBInstance and
    ModifyDBInstance, and DescribeDBParameters answers without ``Source``, which the
    provider uses to tell the group's own parameters from engine defaults; both read back as
    changes on every plan.
    """
    from moto.rds.models import DBInstance
    from moto.rds.responses import RDSResponse

    original_init, original_update = DBInstance.__init__, DBInstance.update

    def insights(instance: Any, kwargs: dict[str, Any]) -> None:
        # The API parameter is EnablePerformanceInsights; DescribeDBInstances says PerformanceInsightsEnabled.
        enabled = bool(kwargs.pop("enable_performance_insights", False))
        instance.performance_insights_enabled = enabled
        instance.performance_insights_kms_key_id = (
            kwargs.get("performance_insights_kms_key_id") if enabled else None
        )
        instance.performance_insights_retention_period = (
            int(kwargs.get("performance_insights_retention_period") or 7) if enabled else None
        )

    def __init__(self, backend, *args: Any, **kwargs: Any) -> None:
        original_init(self, backend, *args, **kwargs)
        insights(self, dict(kwargs))

    def update(self, *args: Any, **kwargs: Any) -> None:
        if "enable_performance_insights" in kwargs and kwargs["enable_performance_insights"] is not None:
            insights(self, kwargs)
        original_update(self, *args, **kwargs)

    original_parameters = RDSResponse.describe_db_parameters

    def describe_db_parameters(self):
        result = original_parameters(self)
        source = self.params.get("Source")
        parameters = [{**p, "Source": p.get("Source", "user")} for p in result.result["Parameters"]]
        result.result["Parameters"] = [p for p in parameters if source in (None, p["Source"])]
        return result

    DBInstance.__init__ = __init__
    DBInstance.update = update
    RDSResponse.describe_db_parameters = describe_db_parameters


def _patch_ecs_service() -> None:
    """CreateService keeps the settings moto drops: capacity provider strategy (then no launch type),
    health-check grace period, ECS managed tags, deployment configuration (circuit breaker) and
    Availability Zone rebalancing. Each read back as a change, the strategy as a replacement."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service
    kept = {
        "capacityProviderStrategy": "capacity_provider_strategy",
        "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
        "enableECSManagedTags": "enable_ecs_managed_tags",
        "enableExecuteCommand": "enable_execute_command",
        "deploymentConfiguration": "deployment_configuration",
        "availabilityZoneRebalancing": "availability_zone_rebalancing",
    }

    def create_service(self):
        result = original(self)
        service = result.result["service"]
        for parameter, attribute in kept.items():
            if self._get_param(parameter) is not None:
                setattr(service, attribute, self._get_param(parameter))
        if self._get_param("capacityProviderStrategy") and not self._get_param("launchType"):
            service.launch_type = None  # AWS reports no launch type for a capacity provider strategy
            for deployment in service.deployments:
                deployment["launchType"] = None
                deployment["capacityProviderStrategy"] = self._get_param("capacityProviderStrategy")
        return result

    EC2ContainerServiceResponse.create_service = create_service


def _patch_security_group_rule_description() -> None:
    """A rule that references another security group keeps its description (moto keeps it only for
    CIDR rules, so every group-to-group rule read back without one)."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    SecurityGroupRule.description = property(
        lambda self: self.ip_range.get("Description") or (self.source_group or {}).get("Description")
    )


def _patch_monitor_instances() -> None:
    """MonitorInstances/UnmonitorInstances switch detailed monitoring (moto raises NotImplementedError;
    the provider calls it for ``monitoring = true``)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.monitoring import Monitoring

    def switch(state: str):
        def handler(self):
            self.error_on_dryrun()
            monitorings = []
            for instance_id in self._get_param("InstanceIds", []):
                self.ec2_backend.get_instance(instance_id).monitoring_state = state
                monitorings.append({"InstanceId": instance_id, "Monitoring": {"State": state}})
            return ActionResult({"InstanceMonitorings": monitorings})

        return handler

    Monitoring.monitor_instances = switch("enabled")
    Monitoring.unmonitor_instances = switch("disabled")


def _patch_instance_security_groups() -> None:
    """An instance launched with its groups on the primary network interface reports them as its own.

    The provider passes the groups inside ``NetworkInterfaces`` when it asks for a public address
    (``associate_public_ip_address``); AWS then lists them under the instance's ``SecurityGroups``,
    moto only under the interface, so ``vpc_security_group_ids`` read back empty on every plan.
    """
    from moto.ec2.models.instances import InstanceBackend

    original = InstanceBackend.run_instances

    def run_instances(self, *args: Any, **kwargs: Any):
        reservation = original(self, *args, **kwargs)
        for instance in reservation.instances:
            primary = instance.nics.get(0)
            if not instance.security_groups and primary is not None:
                instance.security_groups = list(primary._group_set)
        return reservation

    InstanceBackend.run_instances = run_instances


def _patch_load_balancer_deletion_protection() -> None:
    """DeleteLoadBalancer refuses a load balancer with deletion protection on, as AWS does (moto
    deletes it anyway, so a destroy that forgot to lift the protection would pass)."""
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    original = ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and str(balancer.attrs.get("deletion_protection.enabled")).lower() == "true":
            raise ELBClientError(
                "OperationNotPermitted",
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled",
            )
        original(self, arn)

    ELBv2Backend.delete_load_balancer = delete_load_balancer


# In the order the README lists them; each docstring says what moto does without it.
EMULATOR_PATCHES: tuple[Callable[[], None], ...] = (
    _patch_policy_conditions,
    _patch_elasticache,
    _patch_application_autoscaling_tags,
    _patch_rds,
    _patch_ecs_service,
    _patch_security_group_rule_description,
    _patch_instance_security_groups,
    _patch_monitor_instances,
    _patch_register_image,
    _patch_load_balancer_deletion_protection,
)


class Emulator:
    """moto on a free loopback port in this process; ``client(service)`` talks to it with boto3.

    ``errors`` collects the emulator's internal errors (a 500 with a traceback): a running Terraform
    step stops at the first one instead of letting the provider retry it for many minutes.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self.url = ""
        self.errors: list[str] = []
        self._server: Any = None
        self._saved_iam_config: Any = None

    def __enter__(self) -> Emulator:
        from flask import got_request_exception
        from moto.core.config import default_user_config
        from moto.moto_api._internal.models import moto_api_backend
        from moto.server import ThreadedMotoServer

        patch_moto()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
        # AWS's managed policies exist in every account (the stacks attach two); moto loads them on request.
        self._saved_iam_config = default_user_config.get("iam")
        default_user_config["iam"] = {**(self._saved_iam_config or {}), "load_aws_managed_policies": True}
        moto_api_backend.reset()  # a fresh account, whatever ran in this process before
        got_request_exception.connect(self._record_error)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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

    def _record_error(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        from flask import request

        self.errors.append(
            f"{request.method} {request.host}{request.path} "
            f"{request.headers.get('X-Amz-Target') or request.values.get('Action', '')}\n"
            + "".join(traceback.format_exception(exception)[-4:])
        )

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=self.url, region_name=self.region,
            aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
            # proxies={}: straight to the loopback address, whatever proxy the environment names.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, proxies={}),
        )  # fmt: skip


def prepare_emulator(emulator: Emulator, settings: Settings) -> list[str]:
    """What an account holds before the first deploy: the public hosted zone (when the configuration
    names one; the stacks look it up) and an Ubuntu 22.04 image for the EC2 host's AMI lookup."""
    notes = []
    if settings.hosted_zone:
        emulator.client("route53").create_hosted_zone(
            Name=settings.hosted_zone, CallerReference=f"rehearsal-{time.time_ns()}"
        )
        notes.append(f"hosted zone {settings.hosted_zone}")
    image = emulator.client("ec2").register_image(
        Name=REHEARSAL_AMI_NAME, Architecture="x86_64", VirtualizationType="hvm", RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}],
    )  # fmt: skip
    notes.append(f"image {image['ImageId']} {REHEARSAL_AMI_NAME}")
    return notes


# ------------------------------------------------------------------------------------------------
# Terraform
# ------------------------------------------------------------------------------------------------


def terraform_cli_environment(home: Path) -> dict[str, str]:
    """This environment without ``TF_*``, set up for unattended runs: a plugin cache in ``home`` and,
    when this machine has the offline provider mirror, a CLI config that installs from it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    cache = home / "plugin-cache"
    cache.mkdir(exist_ok=True)
    env.update({"TF_PLUGIN_CACHE_DIR": str(cache), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"})
    if PROVIDER_MIRROR.is_dir():
        config = home / "cli.tfrc"
        config.write_text(
            "provider_installation {\n  filesystem_mirror {\n"
            f'    path = "{PROVIDER_MIRROR}"\n    include = ["registry.terraform.io/hashicorp/*"]\n'
            "  }\n}\n"
        )
        env["TF_CLI_CONFIG_FILE"] = str(config)
    return env


def emulator_environment(base: dict[str, str]) -> dict[str, str]:
    """``base`` (a CLI environment) with dummy credentials and loopback-only networking."""
    env = {
        k: v for k, v in base.items()
        if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
    }  # fmt: skip
    env.update(DUMMY_CREDENTIALS)
    # Each Terraform command starts the AWS provider two to four times, and each start builds its
    # whole schema, which is allocation-heavy: a laxer garbage collector takes a quarter off the CPU
    # of a plan (11.6 s -> 8.8 s measured) for ~140 MB more peak memory per provider process.
    env.setdefault("GOGC", "400")
    closed = f"http://127.0.0.1:{_closed_port()}"
    env.update({
        "TF_INPUT": "0",
        # Go connects to loopback addresses directly and sends everything else to this proxy, on a
        # loopback port nothing listens on: a request that escaped the endpoints fails right here.
        "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "NO_PROXY": "127.0.0.1,localhost",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })  # fmt: skip
    return env


_CLOSED_PORT: int | None = None


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once and released, so connections are refused)."""
    global _CLOSED_PORT
    if _CLOSED_PORT is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            _CLOSED_PORT = probe.getsockname()[1]
    return _CLOSED_PORT


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return (self.stderr + "\n" + self.stdout).strip()


class Terraform:
    """Runs the CLI in one stack directory with a time limit; logs every run to ``<dir>/logs``.

    A run also stops at the first internal error of the emulator (``errors`` grows).
    """

    def __init__(
        self, stack: str, directory: Path, env: dict[str, str], errors: list[str] | None = None
    ) -> None:
        self.stack, self.directory, self.env = stack, directory, env
        self.errors = errors if errors is not None else []
        self.logs = directory / "logs"
        self.logs.mkdir(exist_ok=True)

    def run(
        self, step: str, args: list[str], *, timeout: float, check: bool = True, ok: tuple[int, ...] = (0,)
    ) -> Run:
        started = time.monotonic()
        known_errors = len(self.errors)
        process = subprocess.Popen(
            ["terraform", *args], cwd=self.directory, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        problem = ""
        try:
            while True:
                try:
                    stdout, stderr = process.communicate(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - started > timeout:
                        problem = f"terraform {args[0]} did not finish within {timeout:.0f} s"
                    elif len(self.errors) > known_errors:
                        problem = ("the emulator failed on a request (a gap of the emulator, not of the stack):\n"
                                   + self.errors[known_errors])  # fmt: skip
                    if problem:
                        stop_process_groups([process], grace=15)
                        stdout, stderr = process.communicate()
                        break
        finally:
            if process.poll() is None:  # interrupted (Ctrl-C, SIGTERM): no Terraform outlives the rehearsal
                stop_process_groups([process], grace=15)
        run = Run(process.returncode, stdout, stderr, time.monotonic() - started)
        self._log(step, args, stdout, stderr)
        if problem:
            raise RehearsalError(self.stack, step, problem, _tail(stderr + "\n" + stdout))
        if check and run.returncode not in ok:
            message = f"terraform {args[0]} exited with {run.returncode}"
            if len(self.errors) > known_errors:
                message += "; the emulator failed on a request:\n" + self.errors[known_errors]
            raise RehearsalError(self.stack, step, message, _diagnostics(run))
        return run

    def _log(self, step: str, args: list[str], stdout: str, stderr: str) -> None:
        name = re.sub(r"[^a-z0-9-]+", "-", step.lower()).strip("-")
        with open(self.logs / f"{name}.log", "a") as log:
            log.write(f"$ terraform {' '.join(args)}\n{stdout}\n--- stderr ---\n{stderr}\n")


def stop_process_groups(processes: list[subprocess.Popen], grace: float) -> None:
    """Terminates each child's process group (Terraform's provider plugins, a rehearsal's Terraform),
    all at once, then kills what is still there after ``grace`` seconds."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _diagnostics(run: Run) -> str:
    """Terraform's error blocks (stderr with -no-color), then the end of what it printed before them."""
    return (run.stderr.strip() + "\n" + _tail(run.stdout, 30)).strip()


def _summary_line(stdout: str) -> str:
    """Terraform's one-line verdict of a plan, apply or destroy."""
    for prefix in ("Apply complete!", "Destroy complete!", "Plan:", "No changes."):
        for line in stdout.splitlines():
            if line.strip().startswith(prefix):
                return line.strip()
    return ""


def _plan_body(stdout: str) -> str:
    """The part of Terraform's output that lists changes (from 'Terraform will perform' on)."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if "Terraform will perform" in line), 0)
    return _tail("\n".join(lines[start:]), 200)


def rehearsal_settings(config: str, endpoint_url: str, **extra: Any) -> Settings:
    """The configuration's settings plus ``REHEARSAL_SETTINGS`` and the emulator's URL."""
    return validate({**CONFIGS[config](), **REHEARSAL_SETTINGS, "endpoint_url": endpoint_url, **extra})


def synthesize(settings: Settings, outdir: Path) -> dict[str, Path]:
    """The project's own synthesis (``modules.app.build_app``); returns each stack's directory."""
    from modules.app import build_app

    build_app(settings, outdir).synth()
    return {name: outdir / "stacks" / name for name in STACKS}


# ------------------------------------------------------------------------------------------------
# The rehearsal
# ------------------------------------------------------------------------------------------------


class Rehearsal:
    """One configuration, ``homu-state`` and the chosen application stacks, one emulator.

    ``run()`` returns the per-stack results or raises RehearsalError. ``transform(stack, config)``
    may change each synthesized stack before it is staged (the tests stage a deliberate perpetual
    diff with it).
    """

    def __init__(
        self,
        config: str = "default",
        *,
        stacks: tuple[str, ...] = STACKS,
        keep: bool = False,
        transform: Callable[[str, dict[str, Any]], None] | None = None,
        out: Callable[[str], None] = print,
    ) -> None:
        if config not in CONFIGS:
            raise ValueError(f"unknown configuration {config!r}; one of {', '.join(CONFIGS)}")
        if set(stacks) - set(STACKS) or STATE_STACK not in stacks:
            raise ValueError(f"stacks must be among {', '.join(STACKS)} and include {STATE_STACK}")
        self.config, self.keep, self.out, self.transform = config, keep, out, transform
        self.stacks = tuple(s for s in STACKS if s in stacks)
        self.results: dict[str, StackResult] = {}
        self.dirty: list[RehearsalError] = []
        self.error: RehearsalError | None = None
        self.seconds = 0.0
        self.workdir: Path | None = None
        self.emulator_url = ""
        self._unprotected: dict[str, Path] | None = None
        self._finished = False

    @property
    def passed(self) -> bool:
        return self._finished and self.error is None and not self.dirty

    # --- orchestration ----------------------------------------------------------------------------

    def run(self) -> list[StackResult]:
        started = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"homu-rehearsal-{self.config}-"))
        try:
            region = validate({**CONFIGS[self.config](), **REHEARSAL_SETTINGS}).region
            with Emulator(region) as emulator:
                self.emulator, self.emulator_url = emulator, emulator.url
                self._progress("-", "emulator", f"moto on {emulator.url}", 0.0)
                self._rehearse(emulator)
        except RehearsalError as error:
            self.error = error
            raise
        finally:
            self.seconds = time.monotonic() - started
            self._summary()
            if self.keep:
                self.out(f"kept the work directory {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if self.dirty:
            first = self.dirty[0]
            names = ", ".join(e.stack for e in self.dirty)
            self.error = RehearsalError(
                first.stack, "re-plan", f"the second plan was not empty for {names}", first.output
            )
            raise self.error
        return list(self.results.values())

    def _rehearse(self, emulator: Emulator) -> None:
        assert self.workdir is not None
        self.settings = rehearsal_settings(self.config, emulator.url)
        self.env = emulator_environment(terraform_cli_environment(self.workdir))
        self._timed("-", "prepare", lambda: "; ".join(prepare_emulator(emulator, self.settings)))
        directories: dict[str, Path] = {}
        self._timed("-", "synth", lambda: (
            directories.update(self._synthesize(self.settings, self.workdir / "cdktf.out"))
            or f"{self.config} configuration into {self.workdir}"
        ))  # fmt: skip

        state = Terraform(STATE_STACK, directories[STATE_STACK], self.env, emulator.errors)
        self._deploy(state)
        for index, name in enumerate(self.stacks[1:]):
            stack = Terraform(name, directories[name], self.env, emulator.errors)
            # S3-native locking is one mechanism for every stack on the backend: checked on the first.
            self._deploy(stack, lock_check=index == 0)
            if self.settings.protect_from_deletion:
                self._unprotect(stack)
            self._destroy(stack)
            self._timed(stack.stack, "check leftovers", lambda: self._check_leftovers(stack))
        self._destroy_state_stack(state)
        self._finished = True

    def _synthesize(self, settings: Settings, outdir: Path) -> dict[str, Path]:
        directories = synthesize(settings, outdir)
        if self.transform:
            for name in self.stacks:
                path = directories[name] / "cdk.tf.json"
                config = json.loads(path.read_text())
                self.transform(name, config)
                path.write_text(json.dumps(config, indent=2))
        return directories

    # --- steps ------------------------------------------------------------------------------------

    def _step(
        self, tf: Terraform, step: str, args: list[str], *, timeout: float | None = None, **kwargs: Any
    ) -> Run:
        try:
            run = tf.run(step, args, timeout=timeout or TIMEOUTS[step], **kwargs)
        except RehearsalError:
            self._progress(tf.stack, step, "FAILED", None)
            raise
        self._progress(tf.stack, step, _summary_line(run.stdout) or "ok", run.seconds)
        return run

    def _timed(self, stack: str, step: str, action: Callable[[], str]) -> None:
        """A check or other step done here rather than by Terraform; any exception fails it by name."""
        clock = time.monotonic()
        try:
            detail = action()
        except RehearsalError:
            self._progress(stack, step, "FAILED", None)
            raise
        except Exception as error:  # a boto3 error fails the check too, named as such
            self._progress(stack, step, "FAILED", None)
            raise RehearsalError(stack, step, f"{type(error).__name__}: {error}") from error
        if step.startswith("check "):
            self.results[stack].checks.append(step.removeprefix("check "))
        self._progress(stack, step, detail, time.monotonic() - clock)

    def _deploy(self, tf: Terraform, *, lock_check: bool = False) -> None:
        self.results[tf.stack] = StackResult(tf.stack)
        common = ["-input=false", "-no-color", "-lock-timeout=60s"]
        self._step(tf, "init", ["init", "-input=false", "-no-color"])
        self._step(tf, "plan", ["plan", *common, "-out=tfplan"])
        applied = self._step(tf, "apply", ["apply", *common, "tfplan"])
        match = APPLIED.search(applied.stdout)
        if not match:
            raise RehearsalError(
                tf.stack, "apply", "Terraform did not report 'Apply complete!'", _diagnostics(applied)
            )
        self.results[tf.stack].created = int(match.group(1))
        if tf.stack != STATE_STACK:
            for label, check in (
                ("security groups", self._check_security_groups),
                ("database", self._check_database),
                ("deletion protection", self._check_protection),
                ("secrets", self._check_secrets),
                ("state object", self._check_state_object),
            ):
                self._timed(tf.stack, f"check {label}", lambda check=check: check(tf))
            if lock_check:
                self._timed(tf.stack, "check lock", lambda: self._check_lock(tf))
        self._replan(tf)

    def _replan(self, tf: Terraform) -> None:
        run = self._step(
            tf, "re-plan", ["plan", "-input=false", "-no-color", "-lock-timeout=60s", "-detailed-exitcode", "-out=replan"],
            ok=(0, 2),
        )  # fmt: skip
        result = self.results[tf.stack]
        result.clean = run.returncode == 0
        if result.clean:
            return
        error = RehearsalError(
            tf.stack, "re-plan", f"the second plan is not empty ({_summary_line(run.stdout)}): a perpetual diff",
            "\n".join(self._planned_changes(tf)) + "\n\n" + _plan_body(run.stdout),
        )  # fmt: skip
        self.dirty.append(error)
        self.out(str(error))

    def _planned_changes(self, tf: Terraform) -> list[str]:
        """Each resource the re-plan would change, with the attributes that differ (``show -json``)."""
        run = tf.run(
            "re-plan", ["show", "-json", "-no-color", "replan"], timeout=TIMEOUTS["show"], check=False
        )
        if run.returncode != 0:
            return []
        changes = []
        for change in json.loads(run.stdout).get("resource_changes", []):
            actions = change["change"]["actions"]
            if actions in (["no-op"], ["read"]):
                continue
            before, after = change["change"].get("before") or {}, change["change"].get("after") or {}
            unknown = change["change"].get("after_unknown") or {}
            keys = sorted(k for k in set(before) | set(after) | set(unknown)
                          if before.get(k) != after.get(k) or unknown.get(k) is True)  # fmt: skip
            changes.append(
                f"  {change['address']}: {'/'.join(actions)} ({', '.join(keys) or 'no attribute'})"
            )
        return changes

    def _unprotect(self, tf: Terraform) -> None:
        """What an operator does before tearing down a protected environment: apply the same
        configuration with ``deletion_protection = false``. It must change resources in place only;
        afterwards ``destroy`` can delete the database and the load balancer."""
        assert self.workdir is not None
        if self._unprotected is None:
            settings = rehearsal_settings(self.config, self.emulator.url, deletion_protection=False)
            self._unprotected = self._synthesize(settings, self.workdir / "unprotected")
        shutil.copy(self._unprotected[tf.stack] / "cdk.tf.json", tf.directory / "cdk.tf.json")
        run = self._step(
            tf, "unprotect", ["apply", "-input=false", "-no-color", "-auto-approve", "-lock-timeout=60s"]
        )
        match = APPLIED.search(run.stdout)
        if not match or match.group(1) != "0" or match.group(3) != "0":
            raise RehearsalError(tf.stack, "unprotect", "turning deletion protection off must change resources in "
                                 "place, not add or destroy any", _plan_body(run.stdout))  # fmt: skip

    def _destroy(self, tf: Terraform) -> None:
        result = self.results[tf.stack]
        run = self._step(
            tf, "destroy", ["destroy", "-input=false", "-no-color", "-auto-approve", "-lock-timeout=60s"]
        )
        match = DESTROYED.search(run.stdout)
        result.destroyed = int(match.group(1)) if match else None
        if result.destroyed != result.created:
            raise RehearsalError(tf.stack, "destroy", f"destroyed {result.destroyed} resources, the apply created "
                                 f"{result.created}", _diagnostics(run))  # fmt: skip

    def _destroy_state_stack(self, tf: Terraform) -> None:
        """The state bucket refuses ``destroy`` (``prevent_destroy``): first show that it does, then
        remove that lifecycle from this staged copy only, empty the bucket and destroy it.

        The emulator is discarded anyway. Destroying the bucket rehearses what an operator who really
        wants it gone would do, and the destroy count proves the other stacks left nothing in it but
        their state files.
        """
        refused = tf.run("destroy (protected)", ["plan", "-destroy", "-input=false", "-no-color", "-refresh=false"],
                         timeout=TIMEOUTS["plan"], check=False)  # fmt: skip
        if refused.returncode == 0 or "Instance cannot be destroyed" not in refused.output:
            self._progress(tf.stack, "destroy (protected)", "FAILED", None)
            raise RehearsalError(tf.stack, "destroy (protected)", "a plain destroy of the state bucket was not "
                                 "refused by prevent_destroy", _diagnostics(refused))  # fmt: skip
        self._progress(
            tf.stack, "destroy (protected)", "refused by prevent_destroy, as designed", refused.seconds
        )
        path = tf.directory / "cdk.tf.json"
        config = json.loads(path.read_text())
        for body in config["resource"]["aws_s3_bucket"].values():
            body.get("lifecycle", {}).pop("prevent_destroy", None)
        path.write_text(json.dumps(config, indent=2))
        self._timed(tf.stack, "empty bucket", lambda: self._empty_bucket(self.settings.state_bucket))
        self._destroy(tf)

    def _empty_bucket(self, bucket: str) -> str:
        s3 = self.emulator.client("s3")
        keys = set()
        count = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
                keys.add(item["Key"])
                count += 1
        return f"{count} object versions of {', '.join(sorted(keys)) or 'nothing'}"

    # --- checks against the emulator ---------------------------------------------------------------

    def _outputs(self, tf: Terraform) -> dict[str, Any]:
        run = tf.run("output", ["output", "-json", "-no-color"], timeout=TIMEOUTS["show"])
        return {name: item["value"] for name, item in json.loads(run.stdout).items()}

    def _check_security_groups(self, tf: Terraform) -> str:
        """Every rule of every group, ingress and egress, exactly as modules/security_groups.py designs it."""
        s = self.settings
        ec2 = self.emulator.client("ec2")
        vpc_id = self._outputs(tf)["vpc_id"]
        groups = {
            g["GroupName"]: g["GroupId"]
            for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
                "SecurityGroups"
            ]
        }
        app, database, cache = f"{s.app_name}-sg", f"{s.db_identifier}-sg", f"{s.redis_id}-sg"
        internet = [("0.0.0.0/0", 80), ("0.0.0.0/0", 443)]
        admin = [(s.admin_cidr, 22)] if s.admin_cidr else []
        if tf.stack == FARGATE_STACK:
            entry = f"{s.alb_name}-sg"
            ingress = {
                entry: internet,
                app: [(entry, s.app_port), *admin],
                database: [(app, 5432)],
                cache: [(app, 6379)],
            }
            egress = {
                entry: [(app, s.app_port)], app: [(database, 5432), (cache, 6379), ("0.0.0.0/0", 443)],
                database: [], cache: [],
            }  # fmt: skip
        else:  # the host is entry and app in one group; 8000 is never opened
            ingress = {app: [*internet, *admin], database: [(app, 5432)], cache: [(app, 6379)]}
            egress = {app: [(database, 5432), (cache, 6379), ("0.0.0.0/0", 443), ("0.0.0.0/0", 80)],
                      database: [], cache: []}  # fmt: skip
        missing = sorted(set(ingress) - set(groups))
        if missing:
            raise RehearsalError(tf.stack, "check security groups", f"groups missing in {vpc_id}: {missing}")
        names = {group_id: name for name, group_id in groups.items()}
        rules = ec2.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [groups[name] for name in ingress]}]
        )["SecurityGroupRules"]
        problems = []
        for direction, expected in (("ingress", ingress), ("egress", egress)):
            for name, peers in expected.items():
                found = sorted(
                    _rule(rule, names) for rule in rules
                    if rule["GroupId"] == groups[name] and rule["IsEgress"] == (direction == "egress")
                )  # fmt: skip
                wanted = sorted(("tcp", peer, port, port) for peer, port in peers)
                if found != wanted:
                    problems.append(f"{name} {direction}: expected {wanted}, found {found}")
        if problems:
            raise RehearsalError(
                tf.stack, "check security groups", "rules differ from the design", "\n".join(problems)
            )
        count = sum(map(len, ingress.values())) + sum(map(len, egress.values()))
        return f"{len(ingress)} groups, {count} rules exactly as designed"

    def _database(self) -> dict[str, Any]:
        rds = self.emulator.client("rds")
        (instance,) = rds.describe_db_instances(DBInstanceIdentifier=self.settings.db_identifier)[
            "DBInstances"
        ]
        return instance

    def _check_database(self, tf: Terraform) -> str:
        s = self.settings
        instance = self._database()
        problems = [
            f"{key} is {instance.get(key)!r}, expected {wanted!r}"
            for key, wanted in (
                ("PubliclyAccessible", False),
                ("StorageEncrypted", True),
                ("MultiAZ", s.multi_az),
            )
            if instance.get(key) != wanted
        ]
        if problems:
            raise RehearsalError(tf.stack, "check database", f"{s.db_identifier}: " + "; ".join(problems))
        return f"{s.db_identifier} private, encrypted, Multi-AZ {instance['MultiAZ']}"

    def _check_protection(self, tf: Terraform) -> str:
        """Deletion protection on the database (and the load balancer) exactly as the settings say."""
        s = self.settings
        found = {f"database {s.db_identifier}": self._database()["DeletionProtection"]}
        if tf.stack == FARGATE_STACK:
            elbv2 = self.emulator.client("elbv2")
            (balancer,) = elbv2.describe_load_balancers(Names=[s.alb_name])["LoadBalancers"]
            attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=balancer["LoadBalancerArn"])
            values = {a["Key"]: a["Value"] for a in attributes["Attributes"]}
            found[f"load balancer {s.alb_name}"] = values.get("deletion_protection.enabled") == "true"
        wanted = "on" if s.protect_from_deletion else "off"
        wrong = [
            f"{name} {'on' if on else 'off'}" for name, on in found.items() if on != s.protect_from_deletion
        ]
        if wrong:
            raise RehearsalError(
                tf.stack, "check deletion protection", f"expected {wanted}: " + "; ".join(wrong)
            )
        return f"{wanted} for the " + " and the ".join(found)

    def _check_secrets(self, tf: Terraform) -> str:
        """The guide's secrets with values; URLs at the real endpoints; the write-only key not in the state."""
        s = self.settings
        secrets = self.emulator.client("secretsmanager")
        values = {}
        for name in ("db-url", "redis-url", "secret-key", "redis-auth-token"):
            secret_id = f"{s.secret_prefix}/{name}"
            try:
                values[name] = secrets.get_secret_value(SecretId=secret_id).get("SecretString") or ""
            except secrets.exceptions.ResourceNotFoundException:
                raise RehearsalError(
                    tf.stack, "check secrets", f"secret {secret_id} does not exist"
                ) from None
            if not values[name]:
                raise RehearsalError(tf.stack, "check secrets", f"secret {secret_id} has no value")
        outputs = self._outputs(tf)
        for name, url in (
            (
                "db-url",
                f"postgresql+asyncpg://{s.db_username}@{outputs['database_endpoint']}:5432/{s.db_name}",
            ),
            ("redis-url", f"rediss://{outputs['redis_endpoint']}:6379/0"),
        ):
            if values[name] != url:
                raise RehearsalError(tf.stack, "check secrets",
                                     f"{s.secret_prefix}/{name} is {values[name]!r}, expected {url!r}")  # fmt: skip
        for name in ("secret-key", "redis-auth-token"):
            if len(values[name]) != 64:
                raise RehearsalError(
                    tf.stack, "check secrets", f"{s.secret_prefix}/{name} is not a 64-character draw"
                )
        if values["secret-key"] in self._state_text(tf):
            raise RehearsalError(
                tf.stack, "check secrets", f"the write-only {s.secret_prefix}/secret-key is in the state"
            )
        return "4 secrets with values; the write-only secret key is not in the state"

    def _state_text(self, tf: Terraform) -> str:
        key = self.settings.state_key(tf.stack)
        body = (
            self.emulator.client("s3").get_object(Bucket=self.settings.state_bucket, Key=key)["Body"].read()
        )
        return body.decode()

    def _lock_objects(self, tf: Terraform) -> list[str]:
        listing = self.emulator.client("s3").list_objects_v2(
            Bucket=self.settings.state_bucket, Prefix=self.settings.state_key(tf.stack)
        )
        return [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".tflock")]

    def _no_lock_left(self, tf: Terraform, step: str, holder: str) -> None:
        left = self._lock_objects(tf)
        if left:
            raise RehearsalError(tf.stack, step, f"a lock object outlived {holder}: {left}")

    def _check_state_object(self, tf: Terraform) -> str:
        key = self.settings.state_key(tf.stack)
        state = json.loads(self._state_text(tf))
        managed = [r for r in state["resources"] if r["mode"] == "managed"]
        created = self.results[tf.stack].created
        if len(managed) != created:
            raise RehearsalError(tf.stack, "check state object",
                                 f"s3://{self.settings.state_bucket}/{key} holds {len(managed)} resources, the apply "
                                 f"created {created}")  # fmt: skip
        self._no_lock_left(tf, "check state object", "the apply")
        return f"s3://{self.settings.state_bucket}/{key} holds all {len(managed)} resources; no lock object"

    def _check_lock(self, tf: Terraform) -> str:
        """A Terraform waiting for approval holds the lock: its ``.tflock`` object exists and a second
        Terraform is refused (``-lock-timeout=0s``); after the first is answered "no" the object is gone.

        The holder is ``apply -destroy`` stopped at its prompt, which only an exact "yes" would pass.
        """
        lock_key = self.settings.state_key(tf.stack) + ".tflock"
        env = {k: v for k, v in self.env.items() if k != "TF_INPUT"}
        holder = subprocess.Popen(
            ["terraform", "apply", "-destroy", "-refresh=false", "-no-color", "-input=true", "-lock-timeout=0s"],
            cwd=tf.directory, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, bufsize=0,
        )  # fmt: skip
        chunks: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(holder.stdout, chunks), daemon=True).start()
        seen = ""
        try:
            deadline = time.monotonic() + TIMEOUTS["lock"]
            while "Enter a value:" not in seen:
                try:
                    chunk = chunks.get(timeout=max(deadline - time.monotonic(), 0.1))
                except queue.Empty:
                    chunk = ""
                if chunk is None or time.monotonic() > deadline:
                    raise RehearsalError(tf.stack, "check lock", "the lock-holding Terraform did not reach its "
                                         "approval prompt", _tail(seen))  # fmt: skip
                seen += chunk
            held = self._lock_objects(tf)
            if held != [lock_key]:
                raise RehearsalError(tf.stack, "check lock", f"while a Terraform run holds the lock, expected "
                                     f"{lock_key} in the bucket, found {held}", _tail(seen))  # fmt: skip
            lock_id = json.loads(self.emulator.client("s3").get_object(
                Bucket=self.settings.state_bucket, Key=lock_key)["Body"].read())["ID"]  # fmt: skip
            second = tf.run("check lock", ["plan", "-input=false", "-no-color", "-lock-timeout=0s", "-refresh=false"],
                            timeout=TIMEOUTS["lock"], check=False)  # fmt: skip
            if (
                second.returncode == 0
                or "Error acquiring the state lock" not in second.output
                or lock_id not in second.output
            ):
                raise RehearsalError(tf.stack, "check lock", "a second Terraform was not refused while the lock "
                                     f"{lock_id} was held", _diagnostics(second))  # fmt: skip
            assert holder.stdin is not None
            holder.stdin.write(b"no\n")
            holder.stdin.flush()
            holder.wait(timeout=TIMEOUTS["lock"])
        finally:
            if holder.poll() is None:
                stop_process_groups([holder], grace=15)
        while (chunk := chunks.get(timeout=10)) is not None:
            seen += chunk
        if "cancelled" not in seen:
            raise RehearsalError(
                tf.stack, "check lock", "the lock-holding Terraform did not cancel", _tail(seen)
            )
        self._no_lock_left(tf, "check lock", "the run that held it")
        return f"{lock_key} exists while held, refuses a second Terraform, is gone afterwards"

    def _check_leftovers(self, tf: Terraform) -> str:
        """After destroy nothing of the stack is left, and its secret names are free for reuse at once."""
        s = self.settings
        left = []
        secrets = self.emulator.client("secretsmanager").list_secrets(IncludePlannedDeletion=True)[
            "SecretList"
        ]
        left += [f"secret {x['Name']}" for x in secrets if x["Name"].startswith(f"{s.secret_prefix}/")]
        left += [f"database {x['DBInstanceIdentifier']}"
                 for x in self.emulator.client("rds").describe_db_instances()["DBInstances"]]  # fmt: skip
        left += [f"cache {x['ReplicationGroupId']}"
                 for x in self.emulator.client("elasticache").describe_replication_groups()["ReplicationGroups"]]  # fmt: skip
        left += [f"load balancer {x['LoadBalancerName']}"
                 for x in self.emulator.client("elbv2").describe_load_balancers()["LoadBalancers"]]  # fmt: skip
        ec2 = self.emulator.client("ec2")
        stack_filter = [{"Name": "tag:Stack", "Values": [tf.stack]}]
        left += [f"VPC {x['VpcId']}" for x in ec2.describe_vpcs(Filters=stack_filter)["Vpcs"]]
        left += [
            f"instance {i['InstanceId']}"
            for r in ec2.describe_instances(Filters=stack_filter)["Reservations"] for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ]  # fmt: skip
        if left:
            raise RehearsalError(tf.stack, "check leftovers", "destroy left " + ", ".join(left))
        return "nothing left; secret names free for reuse"

    # --- reporting --------------------------------------------------------------------------------

    def _progress(self, stack: str, step: str, detail: str, seconds: float | None) -> None:
        if stack in self.results and seconds is not None:
            result = self.results[stack]
            result.steps.append((step, round(seconds, 1), detail))
            result.seconds += seconds
        took = "" if seconds is None else f"{seconds:6.1f} s"
        self.out(f"[{self.config}] {stack:<12} {step:<25} {took:>8}  {detail}")

    def _summary(self) -> None:
        rows = [("stack", "created", "destroyed", "re-plan", "checks", "time")]
        for r in self.results.values():
            rows.append((
                r.name, str(r.created), "-" if r.destroyed is None else str(r.destroyed),
                {True: "clean", False: "CHANGES", None: "-"}[r.clean], str(len(r.checks)), f"{r.seconds:.1f} s",
            ))  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        verdict = "passed" if self.passed else "FAILED"
        self.out("")
        self.out(f"rehearsal of the {self.config} configuration: {verdict} in {self.seconds:.1f} s")
        for row in rows:
            self.out("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    def report(self) -> dict[str, Any]:
        """Everything the summary says, as JSON-ready data (``--report``)."""
        return {
            "config": self.config, "passed": self.passed, "seconds": round(self.seconds, 1),
            "stacks": [asdict(r) for r in self.results.values()],
            "error": None if self.error is None else {
                "stack": self.error.stack, "step": self.error.step, "message": self.error.message,
                "output": self.error.output,
            },
        }  # fmt: skip


def _pump(stream: Any, chunks: queue.Queue) -> None:
    """Reads a child's output as it comes (a prompt ends without a newline); None marks the end."""
    while data := os.read(stream.fileno(), 4096):
        chunks.put(data.decode(errors="replace"))
    chunks.put(None)


def _rule(rule: dict[str, Any], names: dict[str, str]) -> tuple[str, str, int, int]:
    if rule.get("ReferencedGroupInfo"):
        group_id = rule["ReferencedGroupInfo"]["GroupId"]
        peer = names.get(group_id, group_id)
    else:
        peer = rule.get("CidrIpv4") or rule.get("CidrIpv6") or rule.get("PrefixListId") or "?"
    return (rule["IpProtocol"], peer, rule.get("FromPort"), rule.get("ToPort"))


def terminate(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so Terraform is stopped, the emulator too and temp dirs removed."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="default",
                        help="default: no settings at all; production: environments/prod.json")  # fmt: skip
    parser.add_argument("--stacks", default=",".join(STACKS[1:]),
                        help=f"application stacks after {STATE_STACK}, comma-separated (default: all)")  # fmt: skip
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (synthesized stacks, plans, Terraform logs, local state)")  # fmt: skip
    parser.add_argument("--report", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    stacks = tuple(dict.fromkeys(name.strip() for name in args.stacks.split(",") if name.strip()))
    if not stacks or set(stacks) - set(STACKS[1:]):
        parser.error(f"--stacks: a comma-separated choice of {', '.join(STACKS[1:])}, got {args.stacks!r}")
    if shutil.which("terraform") is None:
        print("error: terraform is not on the PATH (Terraform 1.11+ is required)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, terminate)
    rehearsal = Rehearsal(args.config, stacks=(STATE_STACK, *stacks), keep=args.keep,
                          out=lambda line: print(line, flush=True))  # fmt: skip
    try:
        rehearsal.run()
    except RehearsalError as error:
        print(f"\nerror: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nerror: interrupted; Terraform and the emulator were stopped, the work directory removed",
              file=sys.stderr, flush=True)  # fmt: skip
        return 130
    finally:
        if args.report:
            args.report.write_text(json.dumps(rehearsal.report(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
