"""The guide's security-group graph, one rule per resource, each with a description.

    internet --80/443--> entry --app_port--> app --5432--> database
                                                 --6379--> cache

The data tier (``DataTierGroups``) owns the database and cache groups and no rule at all: each
compute stack's ``SecurityGroups`` adds the rules that admit its own backend group, so the data tier
admits exactly the computes deployed, and destroying one removes its way in.

Fargate: ``entry`` is the load balancer and ``app`` the tasks. EC2: the host is both (its reverse
proxy reaches the app on the host itself, so ``app_port`` is never opened in a group at all).
Rules are ``aws_vpc_security_group_*_rule`` resources rather than inline blocks: one rule changes
without replacing its neighbours, and each carries its own description and tags.
"""

from __future__ import annotations

from typing import Literal

from constructs import Construct

from modules import aws
from modules.names import HTTP_PORT, HTTPS_PORT, INTERNET_V4, POSTGRES_PORT, REDIS_PORT
from modules.policy import skip_check


class _Groups(Construct):
    def __init__(self, scope: Construct, id_: str, *, vpc_id: str) -> None:
        super().__init__(scope, id_)
        self._vpc_id = vpc_id

    def _group(self, id_: str, name: str, description: str) -> aws.security_group.SecurityGroup:
        return aws.security_group.SecurityGroup(
            self, id_, name=name, description=description, vpc_id=self._vpc_id, tags={"Name": name}
        )

    def _ingress(self, id_, group, port: int, description: str, *, source=None, cidr: str | None = None):
        ingress = aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule
        return self._rule(ingress, id_, group, port, description, peer=source, cidr=cidr)

    def _egress(self, id_, group, port: int, description: str, *, destination=None, cidr: str | None = None):
        egress = aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule
        return self._rule(egress, id_, group, port, description, peer=destination, cidr=cidr)

    def _rule(self, resource, id_, group, port: int, description: str, *, peer, cidr: str | None):
        """One TCP port between ``group`` and a peer group or CIDR, named by its id."""
        return resource(
            self,
            id_,
            security_group_id=_group_id(group),
            description=description,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            **_peer(peer, cidr),
            tags={"Name": id_},
        )


class DataTierGroups(_Groups):
    """The database's and the cache's groups: no egress, and ingress only from computes' rules."""

    database: str  # group id of PostgreSQL
    cache: str  # group id of Redis

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc_id: str,
        database_name: str,
        cache_name: str,
        name_suffix: str = "",
    ) -> None:
        super().__init__(scope, id_, vpc_id=vpc_id)
        database = self._group(
            "database", f"{database_name}-sg{name_suffix}", "PostgreSQL, reached only from the backends"
        )
        cache = self._group("cache", f"{cache_name}-sg{name_suffix}", "Redis, reached only from the backends")
        self.database, self.cache = database.id, cache.id


class SecurityGroups(_Groups):
    """A compute's groups, every rule between them, and its way into the data tier's groups."""

    entry: str  # group id of the public entry point (the same group as ``app`` for a host)
    app: str  # group id of the backend

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc_id: str,
        entry_kind: Literal["load_balancer", "host"],
        entry_name: str,
        app_group_name: str,
        database_group_id: str,
        cache_group_id: str,
        app_port: int,
        admin_cidr: str | None = None,
        name_suffix: str = "",
    ) -> None:
        super().__init__(scope, id_, vpc_id=vpc_id)
        app_group_name += name_suffix
        if entry_kind == "load_balancer":
            entry = self._group("entry", f"{entry_name}-sg{name_suffix}", "Public entry: the load balancer")
            app = self._group("app", app_group_name, "Backend tasks, reached only from the load balancer")
            backend = "the Fargate tasks"
        else:
            entry = app = self._group("app", app_group_name, "Backend host: reverse proxy and app")
            backend = "the EC2 host"

        # The VPC is IPv4-only, so there is no ::/0 rule to add.
        self._ingress("entry-443", entry, HTTPS_PORT, "HTTPS from the internet", cidr=INTERNET_V4)
        http = self._ingress("entry-80", entry, HTTP_PORT, "HTTP from the internet", cidr=INTERNET_V4)
        skip_check(
            http,
            "CKV_AWS_260",
            "port 80 serves the redirect to HTTPS (ALB, or Caddy on the EC2 host, "
            "which also answers ACME HTTP-01 there); it is plain HTTP only while no domain is configured",
        )

        if entry_kind == "load_balancer":
            self._ingress(
                "app-from-entry", app, app_port, "App port from the load balancer only", source=entry
            )
            self._egress(
                "entry-to-app", entry, app_port, "Load balancer to the backend tasks", destination=app
            )
        if admin_cidr and entry_kind == "host":  # Fargate tasks run no SSH server: nothing to open
            self._ingress(
                "app-ssh-admin", app, 22, "SSH from the configured admin network only", cidr=admin_cidr
            )

        self._ingress(
            "database-from-app", database_group_id, POSTGRES_PORT, f"PostgreSQL from {backend}", source=app
        )
        self._ingress("cache-from-app", cache_group_id, REDIS_PORT, f"Redis from {backend}", source=app)
        self._egress(
            "app-to-database", app, POSTGRES_PORT, "Backend to PostgreSQL", destination=database_group_id
        )
        self._egress("app-to-cache", app, REDIS_PORT, "Backend to Redis", destination=cache_group_id)
        # Image pulls, Secrets Manager, CloudWatch Logs (through NAT or a public IP) and, on the host,
        # git and certificate issuance. The database and cache groups have no egress at all.
        self._egress("app-https-out", app, HTTPS_PORT, "HTTPS to AWS APIs and registries", cidr=INTERNET_V4)
        if entry_kind == "host":
            self._egress("app-http-out", app, HTTP_PORT, "HTTP for Ubuntu package mirrors", cidr=INTERNET_V4)

        self.entry, self.app = entry.id, app.id


def _group_id(group) -> str:
    """A group of this stack, or the id of one in another (the data tier's, from its remote state)."""
    return group if isinstance(group, str) else group.id


def _peer(group, cidr: str | None) -> dict[str, str]:
    if group is not None:
        return {"referenced_security_group_id": _group_id(group)}
    return {"cidr_ipv6": cidr} if ":" in cidr else {"cidr_ipv4": cidr}
