"""The fix for each cause a stopped task or a service event reports, with this deployment's names."""

from __future__ import annotations

from dataclasses import dataclass

from modules.names import FARGATE_STACK
from tools.doctor import classify


@dataclass(frozen=True)
class Names:
    region: str
    cluster: str
    service: str
    log_group: str
    tag_parameter: str
    repository: str  # the repository URL the task definition pulls from
    health_path: str
    memory: int  # the task's MiB


def fixes_for(kind: str, n: Names) -> list[str]:
    deploy = f"python -m tools.cdktf deploy {FARGATE_STACK}"
    logs = f"aws logs tail {n.log_group} --region {n.region} --since 1h"
    return {
        classify.IMAGE_MISSING: [
            (
                f"push the tag the task definition names to {n.repository} (docs/ci-cd.md), or point the service "
                f"at a tag that exists: aws ssm put-parameter --region {n.region} --name {n.tag_parameter} "
                f"--type String --overwrite --value <TAG>; then {deploy}"
            ),
        ],
        classify.SECRET_UNREADABLE: [
            f"{deploy}   (puts back the execution role's statements ReadTheMasterPassword and DecryptTheSecrets)",
        ],
        classify.NO_ROUTE: [
            (
                "the tasks reach ECR and Secrets Manager on 443 through a NAT gateway (nat_gateways single or per_az) "
                "or public IPs (nat_gateways none): check the private route tables' 0.0.0.0/0 route and the app "
                f"group's 443 egress; {deploy} puts both back"
            ),
        ],
        classify.HEALTH_CHECK: [
            f"the load balancer asks {n.health_path} (health_check_path) and wants 200 within 5 s: {logs}",
        ],
        classify.OUT_OF_MEMORY: [
            (
                f"raise fargate_memory (now {n.memory} MiB; a valid pair with fargate_cpu): "
                f"HOMU_FARGATE_MEMORY={n.memory * 2} {deploy}"
            ),
        ],
        classify.APP_EXITED: [f"read why it exited: {logs}"],
    }.get(
        kind,
        [
            (
                f"aws ecs describe-services --region {n.region} --cluster {n.cluster} --services {n.service} "
                "--query 'services[0].events[:10]'"
            )
        ],
    )
