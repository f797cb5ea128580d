"""Elastic Load Balancing v2: deletion protection, and which load balancers a target group serves."""

from __future__ import annotations

from typing import Any


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


def patch_target_group_attachments() -> None:
    """A target group's ``LoadBalancerArns`` follow the listeners that forward to it, as on AWS.

    moto 5.2.5 adds a load balancer to a target group when a listener or rule is created, but never
    removes it: after ModifyListener moves the default action to another group, the old group still
    reports the load balancer (and the new one none), so an unused group looks in use.
    """
    from moto.elbv2.models import ELBv2Backend

    original = ELBv2Backend.modify_listener

    def modify_listener(self, arn: str, *args: Any, **kwargs: Any) -> Any:
        listener = original(self, arn, *args, **kwargs)
        served: dict[str, list[str]] = {group: [] for group in self.target_groups}
        for balancer_arn, balancer in self.load_balancers.items():
            for each in balancer.listeners.values():
                for rule in each.rules.values():
                    for action in rule.actions:
                        if action.type == "forward":
                            for group in self._get_target_group_arns_from(action_data=action.data):
                                if balancer_arn not in served[group]:
                                    served[group].append(balancer_arn)
        for group_arn, balancers in served.items():
            self.target_groups[group_arn].load_balancer_arns = balancers
        return listener

    ELBv2Backend.modify_listener = modify_listener
