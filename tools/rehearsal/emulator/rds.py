"""RDS: Performance Insights settings and the source of parameter-group parameters."""

from __future__ import annotations

import secrets
import string
from typing import Any


def _managed_key_arn(account_id: str, region: str) -> str:
    """The ARN of the account's AWS-managed ``aws/rds`` key (made on first use, as AWS does)."""
    from moto.kms.models import kms_backends

    kms = kms_backends[account_id][region]
    return kms.keys[kms.get_key_id_from_alias("alias/aws/rds")].arn


def patch_instances_and_parameters() -> None:
    """RDS keeps Performance Insights settings given at creation and reports user-set parameters
    with ``Source: user``; an instance encrypted without a key named is encrypted with the
    account's ``aws/rds`` key (moto reports the placeholder ``default_kms_key_id``), and each instance
    has a resource id of its own (moto gives all one, so with two instances the provider finds none).

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
        # moto gives every instance the same DbiResourceId, which the provider reads instances by.
        self.dbi_resource_id = "db-" + "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(26)
        )
        if self.storage_encrypted and self.kms_key_id == "default_kms_key_id":
            self.kms_key_id = _managed_key_arn(backend.account_id, backend.region_name)

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
