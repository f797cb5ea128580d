"""The one typed settings object.

Defaults reproduce the deployment guide. Values come from, lowest precedence first: these defaults,
the ``context`` of ``cdktf.json``, the JSON file named by ``HOMU_SETTINGS_FILE`` (one per environment,
e.g. ``environments/prod.json``), and ``HOMU_<FIELD>`` environment variables.

This module must stay cheap to import: ``main.py`` validates settings before it pays for the AWS
bindings, so bad input fails in well under a second.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from modules.adoption_settings import Adoption
from modules.existing_network_settings import ExistingNetwork
from modules.settings_allowed import (
    BUCKET_NAME,
    CACHE_NODE_TYPE,
    CERTIFICATE_ARN,
    DB_INSTANCE_CLASS,
    DOMAIN_NAME,
    EC2_INSTANCE_TYPE,
    EMAIL,
    FARGATE_TASK_SIZES,
    KNOWN_REGIONS,
    LOG_RETENTION_DAYS,
    PRINCIPAL_ARN,
    RDS_MONITORING_INTERVALS,
)

ENV_PREFIX = "HOMU_"
# Port, health path and API prefix are the service's contract, shared with backend/.
CONTRACT = json.loads((Path(__file__).resolve().parent.parent / "backend" / "contract.json").read_text())
SETTINGS_FILE_VARIABLE = "HOMU_SETTINGS_FILE"


def _fail(kind: str, allowed: str) -> PydanticCustomError:
    return PydanticCustomError(kind, allowed)


class Settings(BaseModel):
    """Every knob of both architectures. Field names are the ``cdktf.json`` context keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- deployment -----------------------------------------------------------------------------
    environment: str = Field("dev", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    region: str = "ap-northeast-2"
    # S3 bucket names are global: pick your own before the first deploy (docs/deploying.md).
    state_bucket: str = "homu-terraform-state"
    # "none" saves the NAT gateway (~$43/month each in Seoul) but puts Fargate tasks on public IPs.
    nat_gateways: Literal["none", "single", "per_az"] = "single"
    vpc_cidr: str = "10.0.0.0/16"
    availability_zones: int = Field(2, ge=2, le=3)
    # A VPC and subnets to use instead of the project's own, e.g. the guide's default VPC
    # (docs/existing-network.md); vpc_cidr and availability_zones then do not apply.
    existing_network: ExistingNetwork | None = None
    # What `python -m tools.adopt` writes to take over a deployment built by hand (docs/adopting.md).
    adoption: Adoption | None = None

    # --- names from the guide -------------------------------------------------------------------
    app_name: str = "homu-backend"
    db_identifier: str = "homu-db"
    db_name: str = Field("homu_db", pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
    # Not the guide's "postgres": the engine default is the first name credential stuffing tries.
    db_username: str = Field("homu_admin", pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
    # The app's own database user (RDS IAM sign-in, no password); app.dbinit makes it as db_username.
    db_app_username: str = Field("homu_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    redis_id: str = Field("homu-redis", pattern=r"^[a-z][a-z0-9-]{0,39}$")
    cluster_name: str = "homu-cluster"
    task_family: str = "homu-backend-task"
    service_name: str = "homu-backend-service"
    alb_name: str = Field("homu-alb", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,30}$")
    secret_prefix: str = Field("homu", pattern=r"^[a-zA-Z0-9/_+=.@-]{1,64}$")
    # Raise to derive a new SECRET_KEY (it signs every user out); see docs/secrets.md.
    secret_key_generation: int = Field(1, ge=1)

    # --- application contract -------------------------------------------------------------------
    app_port: int = Field(CONTRACT["port"], ge=1024, le=65535)
    health_check_path: str = Field(CONTRACT["health_path"], pattern=r"^/[A-Za-z0-9/_.-]*$")
    api_v1_str: str = Field(CONTRACT["api_v1_str"], pattern=r"^/[A-Za-z0-9/_.-]*$")

    # --- Fargate --------------------------------------------------------------------------------
    fargate_cpu: int = 512
    fargate_memory: int = 1024
    desired_count: int = Field(1, ge=0)
    min_capacity: int = Field(1, ge=0)
    max_capacity: int = Field(4, ge=1)
    # Share of tasks on Fargate Spot (up to 70 % cheaper, can be interrupted with 2 minutes' notice).
    # Below 100 one task always stays on regular Fargate.
    fargate_spot_percent: int = Field(0, ge=0, le=100)
    # Capacity outside working hours (weeknights 20:00-08:00 and weekends, Asia/Seoul).
    off_hours_scale_in: bool = True
    off_hours_min_capacity: int = Field(1, ge=0)
    off_hours_max_capacity: int = Field(2, ge=1)
    # CloudWatch Container Insights: per-task metrics and performance logs, ~$11/month per service in
    # Seoul. Off, the service's alarms still read the free AWS/ECS metrics.
    container_insights: bool = True
    # The tag Terraform deploys first; afterwards CD owns the tag (see docs/stacks.md).
    # AWS WAF on the ALB (~$10/month + $0.60 per million requests). None: on in "prod".
    waf: bool | None = None
    image_tag: str = Field("latest", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    ecr_keep_images: int = Field(30, ge=1, le=1000)
    # None: without deletion protection a destroy also deletes the images.
    ecr_force_delete: bool | None = None

    # --- PostgreSQL -----------------------------------------------------------------------------
    db_instance_class: str = "db.t3.micro"
    db_allocated_storage: int = Field(20, ge=20, le=65536)
    # Ceiling for RDS storage autoscaling (guide: "자동 스케일링 활성화").
    db_max_allocated_storage: int = Field(100, ge=21, le=65536)
    # RDS enhanced monitoring: OS metrics every N seconds, 0 off; ~$0.27/month at 60 s, 60x that at 1 s.
    db_monitoring_interval: int = 60
    db_backup_retention_days: int = Field(7, ge=1, le=35)
    # None: on when environment is "prod", off otherwise (a dev stack must stay destroyable).
    db_multi_az: bool | None = None
    deletion_protection: bool | None = None
    # None: false in "prod" (a destroy leaves a final snapshot and keeps the automated backups), true
    # otherwise. Independent of deletion_protection: lifting the protection to tear down keeps the data.
    db_skip_final_snapshot: bool | None = None
    # None: 30 days in "prod", else 7 (the shortest KMS allows); lifting deletion protection keeps it.
    kms_deletion_window_days: int | None = Field(None, ge=7, le=30)

    # --- Redis ----------------------------------------------------------------------------------
    # The guide's cache.t2.micro is previous-generation and dearer than cache.t3.micro.
    redis_node_type: str = "cache.t3.micro"
    # 1 = primary only; 2+ adds replicas and turns on automatic failover and Multi-AZ.
    redis_num_cache_clusters: int | None = Field(None, ge=1, le=6)
    redis_engine_version: str = "7.1"

    # --- EC2 ------------------------------------------------------------------------------------
    ec2_instance_type: str = "t3.small"
    ec2_volume_size: int = Field(20, ge=8, le=16384)
    # 1-minute EC2 metrics, ~$2.10/month. Off, the CPU alarm reads the free 5-minute metrics and the
    # status-check alarms the status checks, which are 1-minute metrics anyway.
    ec2_detailed_monitoring: bool = True
    # The repository the host checks out and the directory of its compose project (the guide's repo).
    app_repository: str = Field(
        "https://github.com/your-org/techeer-team-b-2026.git", pattern=r"^(https://|git@)[^\s'\"]+$"
    )
    app_ref: str = Field("main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
    compose_dir: str = Field("backend", pattern=r"^[A-Za-z0-9._/-]{0,200}$")
    # An EC2 key pair for SSH, useful only together with admin_cidr; Session Manager needs none.
    ec2_key_name: str | None = None
    # Canonical's Ubuntu 22.04 images; the rehearsal points these at an image it registers itself.
    ami_owner: str = Field("099720109477", pattern=r"^(\d{12}|self|amazon)$")
    ami_name_pattern: str = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"

    # --- access, alerts, domain -----------------------------------------------------------------
    # SSH stays closed unless this is set; Session Manager is the way in.
    admin_cidr: str | None = None
    alert_email: str | None = None
    domain_name: str | None = None
    hosted_zone: str | None = None
    certificate_arn: str | None = None
    # Which compute domain_name's record in hosted_zone points at. Both can run at once on one data
    # tier; one name has one answer, so switching options moves it with this setting.
    dns_target: Literal["homu-fargate", "homu-ec2"] = "homu-fargate"
    log_retention_days: int = 30
    # owner/name of the GitHub repository whose workflows plan and deploy (OIDC roles); none: no roles.
    github_repository: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    # An account has one OIDC provider per URL: the first environment's homu-state creates it, every
    # further environment in the same account looks it up ("existing").
    github_oidc_provider: Literal["create", "existing"] = "create"
    # IAM users/roles that deploy (run Terraform); set, only they and the plan role can use the state
    # key. Empty: the account's IAM policies decide, as for any key.
    state_key_users: list[str] = []
    # The GitHub environment whose jobs may plan with this environment's plan role (None:
    # infra-plan-<environment>); the plan job refuses to run unless required reviewers guard it.
    github_plan_environment: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,255}$")
    # The GitHub environment of the scheduled drift check (None: infra-drift-<environment>), which
    # the plan role trusts too; its job refuses to run unless only github_deploy_branch may use it.
    github_drift_environment: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,255}$")
    # The GitHub environment whose jobs may deploy (None: "production" in prod, else the environment's
    # name); the deploy job refuses to run unless only github_deploy_branch may deploy to it.
    github_deploy_environment: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,255}$")
    github_deploy_branch: str = Field("main", pattern=r"^[A-Za-z0-9._/-]{1,255}$")

    # --- deploy rehearsal only ------------------------------------------------------------------
    # Points the provider and the S3 backend at a local AWS emulator (moto); loopback addresses only.
    endpoint_url: str | None = None

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in KNOWN_REGIONS:
            raise _fail("region", "one of " + ", ".join(KNOWN_REGIONS))
        return value

    @field_validator("state_bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not BUCKET_NAME.match(value):
            raise _fail("bucket", "an S3 bucket name: 3-63 characters of a-z, 0-9, '.', '-'")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise _fail("cidr", "an IPv4 network in CIDR syntax, e.g. 10.0.0.0/16") from None
        if not (16 <= network.prefixlen <= 20) or not network.is_private:
            raise _fail("cidr", "a private IPv4 network from /16 to /20, e.g. 10.0.0.0/16")
        return value

    @field_validator("existing_network", "adoption", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        # HOMU_EXISTING_NETWORK='{"vpc_id": ...}' from the environment; files and cdktf.json give an object.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _fail("json", "a JSON object (docs/settings.md)") from None
        return value

    @field_validator("admin_cidr")
    @classmethod
    def _admin_cidr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise _fail("cidr", "a CIDR block with host bits zero, e.g. 203.0.113.7/32") from None
        if network.prefixlen == 0:
            raise _fail("cidr", "a specific network, not the whole internet (/0)")
        return value

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise _fail("email", "an e-mail address such as ops@example.com")
        return value

    @field_validator("domain_name", "hosted_zone")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not DOMAIN_NAME.match(value):
            raise _fail("domain", "a lower-case DNS name such as api.example.com")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not CERTIFICATE_ARN.match(value):
            raise _fail("arn", "an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<id>")
        return value

    @field_validator("fargate_cpu")
    @classmethod
    def _fargate_cpu(cls, value: int) -> int:
        if value not in FARGATE_TASK_SIZES:
            raise _fail("fargate_cpu", "one of " + ", ".join(map(str, FARGATE_TASK_SIZES)))
        return value

    @field_validator("db_instance_class")
    @classmethod
    def _db_class(cls, value: str) -> str:
        if not DB_INSTANCE_CLASS.match(value):
            raise _fail("instance_class", "an RDS instance class such as db.t3.micro")
        return value

    @field_validator("redis_node_type")
    @classmethod
    def _cache_node(cls, value: str) -> str:
        if not CACHE_NODE_TYPE.match(value):
            raise _fail("node_type", "an ElastiCache node type such as cache.t3.micro")
        return value

    @field_validator("ec2_instance_type")
    @classmethod
    def _ec2_type(cls, value: str) -> str:
        if not EC2_INSTANCE_TYPE.match(value):
            raise _fail("instance_type", "an EC2 instance type such as t3.small")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _loopback(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = re.match(r"^http://(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$", value)
        if not match:
            raise _fail("endpoint", "http://127.0.0.1:PORT (a local emulator on a loopback address)")
        return value

    @field_validator("redis_engine_version")
    @classmethod
    def _redis_with_iam(cls, value: str) -> str:
        if not re.fullmatch(r"7\.\d", value):
            raise _fail(
                "redis_version",
                "7.x, e.g. 7.1 (the app signs in with IAM, which ElastiCache offers from Redis 7 on)",
            )
        return value

    @field_validator("state_key_users", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # HOMU_STATE_KEY_USERS=arn1,arn2 from the environment; files and cdktf.json give a list.
        return (
            [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        )

    @field_validator("state_key_users")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        if any(not PRINCIPAL_ARN.match(arn) for arn in value):
            raise _fail("principal", "IAM user or role ARNs, e.g. arn:aws:iam::123456789012:role/deployer")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise _fail("retention", "one of " + ", ".join(map(str, LOG_RETENTION_DAYS)))
        return value

    @field_validator("db_monitoring_interval")
    @classmethod
    def _monitoring_interval(cls, value: int) -> int:
        if value not in RDS_MONITORING_INTERVALS:
            raise _fail("interval", "one of " + ", ".join(map(str, RDS_MONITORING_INTERVALS)))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Rules that span fields; all are reported together, each on the key that must change."""
        problems: list[InitErrorDetails] = []

        def problem(key: str, allowed: str) -> None:
            value = getattr(self, key)
            problems.append({"type": _fail("cross_field", allowed), "loc": (key,), "input": value})

        if self.db_app_username.lower() == self.db_username.lower():
            problem("db_app_username", f"a user other than db_username ({self.db_username}), the master")
        memories = FARGATE_TASK_SIZES[self.fargate_cpu]
        if self.fargate_memory not in memories:
            problem(
                "fargate_memory",
                f"with fargate_cpu {self.fargate_cpu}, one of " + ", ".join(map(str, memories)),
            )
        if self.min_capacity > self.max_capacity:
            problem("min_capacity", f"at most max_capacity ({self.max_capacity})")
        elif not self.min_capacity <= self.desired_count <= self.max_capacity:
            problem(
                "desired_count",
                f"between min_capacity ({self.min_capacity}) and max_capacity ({self.max_capacity})",
            )
        if self.off_hours_scale_in and self.off_hours_min_capacity > self.off_hours_max_capacity:
            problem(
                "off_hours_min_capacity", f"at most off_hours_max_capacity ({self.off_hours_max_capacity})"
            )
        if self.off_hours_scale_in and self.off_hours_max_capacity > self.max_capacity:
            problem("off_hours_max_capacity", f"at most max_capacity ({self.max_capacity})")
        if self.db_max_allocated_storage <= self.db_allocated_storage:
            problem(
                "db_max_allocated_storage",
                f"more than db_allocated_storage ({self.db_allocated_storage}) so storage can grow",
            )
        if self.hosted_zone and not self.domain_name:
            problem("hosted_zone", "only together with domain_name")
        if (
            self.hosted_zone
            and self.domain_name
            and not (
                self.domain_name == self.hosted_zone or self.domain_name.endswith("." + self.hosted_zone)
            )
        ):
            problem("domain_name", f"a name inside hosted_zone ({self.hosted_zone})")
        if self.hosted_zone and self.certificate_arn:
            problem("certificate_arn", "unset when hosted_zone is set (the stack issues the certificate)")
        if self.certificate_arn and self.certificate_arn.split(":")[3] != self.region:
            problem("certificate_arn", f"a certificate in region {self.region}")
        if self.existing_network:
            for loc, value, allowed in self.existing_network.problems(self.nat_gateways):
                top = loc if loc == ("nat_gateways",) else ("existing_network", *loc)
                problems.append({"type": _fail("cross_field", allowed), "loc": top, "input": value})
        if problems:
            raise ValidationError.from_exception_data("Settings", problems)
        return self

    @model_validator(mode="after")
    def _resolve_environment_defaults(self) -> Settings:
        """Fills every setting left ``None`` that depends on the environment (ENVIRONMENT_DEFAULTS).

        The one rule: after validation every field holds its effective value, so constructs and tools
        read ``settings.deletion_protection`` and never re-derive what production turns on.
        """
        for key, default in ENVIRONMENT_DEFAULTS.items():
            if getattr(self, key) is None:
                # The model is frozen for its users; resolving is part of building it.
                object.__setattr__(self, key, default(self))
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "prod"

    @property
    def nat_gateway_count(self) -> int:
        return {"none": 0, "single": 1, "per_az": self.availability_zones}[self.nat_gateways]

    def state_key(self, stack: str) -> str:
        return f"{self.environment}/{stack}/terraform.tfstate"

    def backend_config(self, stack: str) -> dict[str, Any]:
        """Where ``stack``'s state lives: the S3 backend's arguments, which every reader of it uses too.
        The state is encrypted with the state key, so reading it needs kms:Decrypt on that key."""
        return {
            "bucket": self.state_bucket,
            "key": self.state_key(stack),
            "region": self.region,
            "encrypt": True,
            "kms_key_id": f"alias/{self.state_key_alias}",
        }

    def answers_domain(self, stack: str) -> bool:
        """Whether ``stack``'s entry is what ``domain_name`` reaches: the ``dns_target`` when the stacks
        own the record in ``hosted_zone``, every compute when the record is managed elsewhere."""
        return bool(self.domain_name) and (not self.hosted_zone or self.dns_target == stack)

    @property
    def state_file(self) -> str:
        """``homu-state``'s local state, in the project directory: one file per environment."""
        return f"terraform.homu-state.{self.environment}.tfstate"

    @property
    def image_tag_parameter(self) -> str:
        """The SSM parameter backend CD records the deployed image tag in (the Fargate option's)."""
        return f"/{self.secret_prefix}/image-tag"

    @property
    def deploy_document(self) -> str:
        """The SSM document the EC2 option's deploy role runs on the host (modules/ci.py)."""
        return f"homu-{self.environment}-deploy"

    def github_role_name(self, purpose: str) -> str:
        """A CI role's name: per environment, so two environments fit in one account."""
        return f"homu-{self.environment}-github-{purpose}"

    @property
    def state_key_alias(self) -> str:
        """The alias of the key that encrypts the state; a backend block can only name it literally."""
        return f"homu-{self.environment}-state"


# Settings whose default depends on the environment, in resolution order (later ones may read
# earlier ones): production is highly available and protected, every other environment cheap and
# destroyable at once.
ENVIRONMENT_DEFAULTS: dict[str, Any] = {
    "db_multi_az": lambda s: s.is_production,
    "deletion_protection": lambda s: s.is_production,
    "waf": lambda s: s.is_production,
    "redis_num_cache_clusters": lambda s: 2 if s.is_production else 1,
    # What production keeps after a destroy, even with deletion protection lifted: a final snapshot,
    # the automated backups, and the keys that encrypt them for the longest window KMS allows.
    "db_skip_final_snapshot": lambda s: not s.is_production,
    "kms_deletion_window_days": lambda s: 30 if s.is_production else 7,
    # A protected repository refuses deletion while it holds images (they are rebuilt from git).
    "ecr_force_delete": lambda s: not s.deletion_protection,
    "github_plan_environment": lambda s: f"infra-plan-{s.environment}",
    "github_drift_environment": lambda s: f"infra-drift-{s.environment}",
    "github_deploy_environment": lambda s: "production" if s.is_production else s.environment,
}


class SettingsError(Exception):
    """Bad settings: one line per problem, already phrased for the person who set them."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _path(loc: tuple[Any, ...]) -> str:
    """``existing_network.subnets[1].id`` for a nested location."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _describe(error: dict[str, Any], raw: dict[str, Any]) -> str:
    key = str(error["loc"][0]) if error["loc"] else "settings"
    # As the user wrote it, not as parsed; inside a nested setting, the part in question.
    given = raw.get(key, error["input"]) if len(error["loc"]) <= 1 else error["input"]
    allowed = error["msg"].removeprefix("Input should be ")
    if error["type"] == "extra_forbidden":
        allowed = "a known setting (see docs/settings.md)"
    return f"setting {_path(error['loc']) or key} ({env_name(key)}): got {given!r}; allowed: {allowed}"


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError([f"{what}: {str(path)!r} does not exist"]) from None
    except (OSError, ValueError) as exc:
        raise SettingsError([f"{what}: {str(path)!r} is not readable JSON ({exc})"]) from None
    if not isinstance(data, dict):
        raise SettingsError([f"{what}: {str(path)!r} must hold a JSON object"])
    return data


def raw_settings(cdktf_json: Path, environ: dict[str, str]) -> dict[str, Any]:
    """Merge every source into one dict of raw values, highest precedence last."""
    merged: dict[str, Any] = {}
    if cdktf_json.exists():
        context = _read_json(cdktf_json, "cdktf.json").get("context", {})
        # cdktf's own feature flags share the context; ours are the keys without a colon.
        merged.update({k: v for k, v in context.items() if ":" not in k})
    if environ.get(SETTINGS_FILE_VARIABLE):
        merged.update(_read_json(Path(environ[SETTINGS_FILE_VARIABLE]), SETTINGS_FILE_VARIABLE))
    for field in Settings.model_fields:
        value = environ.get(env_name(field))
        if value is not None:
            # An empty variable clears an optional setting, as users expect from `HOMU_X= cmd`.
            merged[field] = None if value == "" and _optional(field) else value
    unknown = [
        name
        for name in environ
        if name.startswith(ENV_PREFIX)
        and name != SETTINGS_FILE_VARIABLE
        and name[len(ENV_PREFIX) :].lower() not in Settings.model_fields
    ]
    if unknown:
        raise SettingsError(
            [f"environment variable {name}: not a setting; see docs/settings.md" for name in unknown]
        )
    return merged


def _optional(field: str) -> bool:
    return Settings.model_fields[field].default is None


def validate(raw: dict[str, Any]) -> Settings:
    """Validate raw values, reporting every problem at once.

    pydantic skips the cross-field rules when any field is invalid, so a second pass re-checks them
    with only the invalid keys dropped, and keeps the cross-field problems that do not involve those.
    """
    try:
        return Settings.model_validate(raw)
    except ValidationError as first:
        errors = first.errors(include_url=False)
    bad_keys = {e["loc"][0] for e in errors if e["loc"] and e["type"] != "cross_field"}
    if bad_keys:
        try:
            Settings.model_validate({k: v for k, v in raw.items() if k not in bad_keys})
        except ValidationError as second:
            errors += [
                e
                for e in second.errors(include_url=False)
                if e["type"] == "cross_field" and not _mentions(e, bad_keys)
            ]
    raise SettingsError([_describe(e, raw) for e in errors])


def _mentions(error: dict[str, Any], keys: set[Any]) -> bool:
    text = f"{error['loc'][0]} {error['msg']}"
    return any(re.search(rf"\b{re.escape(str(key))}\b", text) for key in keys)


def load_settings(cdktf_json: Path = Path("cdktf.json"), environ: dict[str, str] | None = None) -> Settings:
    return validate(raw_settings(cdktf_json, dict(os.environ if environ is None else environ)))
