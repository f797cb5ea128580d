"""Elastic Load Balancing v2: deletion protection."""

from __future__ import annotations


def patch_deletion_protection() -> None:
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
