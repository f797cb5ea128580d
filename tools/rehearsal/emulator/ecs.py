"""ECS: services keep the settings they were created with, and name their task definition by ARN."""

from __future__ import annotations

# CreateService parameter -> the attribute of moto's service that reports it.
_KEPT = {
    "capacityProviderStrategy": "capacity_provider_strategy",
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "enableECSManagedTags": "enable_ecs_managed_tags",
    "enableExecuteCommand": "enable_execute_command",
    "deploymentConfiguration": "deployment_configuration",
    "availabilityZoneRebalancing": "availability_zone_rebalancing",
}


def patch_create_service() -> None:
    """CreateService keeps the settings moto drops: capacity provider strategy (then no launch type),
    health-check grace period, ECS managed tags, deployment configuration (circuit breaker) and
    Availability Zone rebalancing. Each read back as a change, the strategy as a replacement."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service

    def create_service(self):
        result = original(self)
        service = result.result["service"]
        for parameter, attribute in _KEPT.items():
            if self._get_param(parameter) is not None:
                setattr(service, attribute, self._get_param(parameter))
        if self._get_param("capacityProviderStrategy") and not self._get_param("launchType"):
            service.launch_type = None  # AWS reports no launch type for a capacity provider strategy
            for deployment in service.deployments:
                deployment["launchType"] = None
                deployment["capacityProviderStrategy"] = self._get_param("capacityProviderStrategy")
        return result

    EC2ContainerServiceResponse.create_service = create_service


def patch_update_service_task_definition() -> None:
    """UpdateService reports the task definition it was given as its full ARN, as AWS does.

    moto keeps the string as given: ``family:revision`` (what the stack asks for after CD has
    registered a newer revision) came back as the service's ``taskDefinition``, and the provider,
    which reads an ARN there, crashed (index out of range) on the next apply.
    """
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        given = service_properties.get("task_definition")
        if given:
            service_properties = {
                **service_properties,
                "task_definition": self.describe_task_definition(given).arn,
            }
        return original(self, service_properties)

    EC2ContainerServiceBackend.update_service = update_service
