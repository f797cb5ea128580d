"""Read-only questions to the account (or the emulator ``endpoint_url`` names): does the resource a
synthesized stack would create already exist, under exactly that name or by its relation to one that
does, and what id does ``terraform import`` take for it.

Only Describe, List and Get calls; a lookup never matches a name loosely (``homu-db-old`` is not
``homu-db``): each asks AWS for the exact name, or filters a listing by equality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modules.settings import Settings
from tools.aws_clients import clients, state_object


@dataclass(frozen=True)
class Found:
    import_id: str
    what: str  # how it reads in the table: "RDS instance homu-db (postgres 15.4)"
    facts: dict[str, Any] = field(default_factory=dict)  # what the mirror and the retire step read


class Account:
    """boto3 clients of the settings' region (and endpoint), with one lookup per resource type."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = clients(settings)

    def missing(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        return code.endswith(("NotFound", "NotFoundFault", "NotFoundException")) or code in (
            "ResourceNotFoundException",
            "DBInstanceNotFound",
            "ReplicationGroupNotFoundFault",
            "LoadBalancerNotFound",
            "TargetGroupNotFound",
            "ClusterNotFoundException",
            "NoSuchEntity",
            "InvalidGroup.NotFound",
            "NoSuchKey",
            "NoSuchBucket",
            "404",
        )

    def unless_missing(self, call: Callable[[], Any]) -> Any:
        from botocore.exceptions import ClientError

        try:
            return call()
        except ClientError as error:
            if self.missing(error):
                return None
            raise

    # --- the data tier --------------------------------------------------------------------------

    def database(self, identifier: str) -> Found | None:
        answer = self.unless_missing(
            lambda: self.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)
        )
        if not answer:
            return None
        db = answer["DBInstances"][0]
        return Found(
            identifier,
            f"RDS {db['Engine']} {db['EngineVersion']} {db['DBInstanceClass']}, user {db['MasterUsername']}",
            {
                "arn": db["DBInstanceArn"],
                "created": db["InstanceCreateTime"].isoformat(),
                "username": db["MasterUsername"],
                "db_name": db.get("DBName"),
                "kms_key_id": db.get("KmsKeyId"),
                "encrypted": db.get("StorageEncrypted", False),
                "allocated_storage": db["AllocatedStorage"],
                "vpc_id": db["DBSubnetGroup"]["VpcId"],
                "subnet_ids": [s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]],
                "group_ids": [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]],
                "managed_password": "MasterUserSecret" in db,
            },
        )

    def cache(self, group_id: str) -> Found | None:
        answer = self.unless_missing(
            lambda: self.client("elasticache").describe_replication_groups(ReplicationGroupId=group_id)
        )
        if not answer:
            return None
        group = answer["ReplicationGroups"][0]
        members = group.get("MemberClusters", [])
        groups: list[str] = []
        if members:
            cluster = self.client("elasticache").describe_cache_clusters(CacheClusterId=members[0])
            groups = [g["SecurityGroupId"] for g in cluster["CacheClusters"][0].get("SecurityGroups", [])]
        encrypted = group.get("AtRestEncryptionEnabled", False)
        return Found(
            group_id,
            f"ElastiCache {group.get('CacheNodeType', '')}, {len(members)} node(s), "
            f"{'encrypted' if encrypted else 'not encrypted'} at rest",
            {"group_ids": groups},
        )

    # --- registry and logs ----------------------------------------------------------------------

    def repository(self, name: str) -> Found | None:
        answer = self.unless_missing(lambda: self.client("ecr").describe_repositories(repositoryNames=[name]))
        if not answer:
            return None
        repository = answer["repositories"][0]
        images = self.client("ecr").list_images(repositoryName=name).get("imageIds", [])
        encryption = repository.get("encryptionConfiguration", {}).get("encryptionType", "AES256")
        return Found(
            name,
            f"ECR repository, {len(images)} image(s), {encryption}",
            {"images": len(images), "encryption": encryption},
        )

    def log_group(self, name: str) -> Found | None:
        groups = self.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        match = [g for g in groups if g["logGroupName"] == name]
        return Found(name, f"log group, {match[0].get('storedBytes', 0)} bytes") if match else None

    # --- option 1 -------------------------------------------------------------------------------

    def cluster(self, name: str) -> Found | None:
        clusters = self.client("ecs").describe_clusters(clusters=[name])["clusters"]
        active = [c for c in clusters if c["clusterName"] == name and c["status"] == "ACTIVE"]
        return Found(name, "ECS cluster") if active else None

    def service(self, cluster: str, name: str) -> Found | None:
        answer = self.unless_missing(
            lambda: self.client("ecs").describe_services(cluster=cluster, services=[name])
        )
        services = [s for s in (answer or {}).get("services", []) if s["status"] == "ACTIVE"]
        if not services:
            return None
        service = services[0]
        network = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        return Found(
            f"{cluster}/{name}",
            f"ECS service, {service.get('launchType', 'capacity providers')}, "
            f"public IP {network.get('assignPublicIp', 'DISABLED')}",
            {"group_ids": network.get("securityGroups", [])},
        )

    def load_balancer(self, name: str) -> Found | None:
        answer = self.unless_missing(lambda: self.client("elbv2").describe_load_balancers(Names=[name]))
        if not answer:
            return None
        balancer = answer["LoadBalancers"][0]
        return Found(
            balancer["LoadBalancerArn"],
            f"{balancer['Type']} load balancer, {balancer['Scheme']}",
            {"group_ids": balancer.get("SecurityGroups", [])},
        )

    def listener(self, balancer_name: str, port: int) -> Found | None:
        """By relation: the listener on ``port`` of the load balancer of that exact name."""
        balancer = self.load_balancer(balancer_name)
        if balancer is None:
            return None
        listeners = self.client("elbv2").describe_listeners(LoadBalancerArn=balancer.import_id)["Listeners"]
        match = [listener for listener in listeners if listener["Port"] == port]
        if not match:
            return None
        targets = [
            a.get("TargetGroupArn") for a in match[0].get("DefaultActions", []) if a.get("TargetGroupArn")
        ]
        return Found(
            match[0]["ListenerArn"], f"{match[0]['Protocol']} listener on {port}", {"target_groups": targets}
        )

    def target_group(self, name: str) -> Found | None:
        answer = self.unless_missing(lambda: self.client("elbv2").describe_target_groups(Names=[name]))
        if not answer:
            return None
        group = answer["TargetGroups"][0]
        return Found(group["TargetGroupArn"], f"target group {group['Protocol']}:{group['Port']}")

    # --- what a cut-short deploy leaves behind -------------------------------------------------------

    def security_group(self, vpc_id: str, name: str) -> Found | None:
        groups = self.client("ec2").describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
        )["SecurityGroups"]
        if not groups:
            return None
        group = groups[0]
        return Found(group["GroupId"], "security group", {"description": group["Description"]})

    def network(self, vpc_id: str, subnet_ids: list[str]) -> dict[str, Any]:
        """``existing_network`` for these subnets: each one's zone, and public when its route table
        (its own or the VPC's main one) sends 0.0.0.0/0 to an internet gateway."""
        ec2 = self.client("ec2")
        vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
        main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)

        def public(subnet_id: str) -> bool:
            own = [
                t for t in tables if any(a.get("SubnetId") == subnet_id for a in t.get("Associations", []))
            ]
            routes = (own[0] if own else main or {}).get("Routes", [])
            return any(
                r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("GatewayId", "").startswith("igw-")
                for r in routes
            )

        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
        return {
            "vpc_id": vpc_id,
            "vpc_cidr": vpc["CidrBlock"],
            "subnets": [
                {
                    "id": s["SubnetId"],
                    "availability_zone": s["AvailabilityZone"],
                    "public": public(s["SubnetId"]),
                }
                for s in sorted(subnets, key=lambda s: (s["AvailabilityZone"], s["SubnetId"]))
            ],
        }

    def state_addresses(self, stack: str) -> set[str] | None:
        """The managed resources a stack's state holds (``None``: no state yet)."""
        state = state_object(self.client, self.settings, stack)
        if state is None:
            return None
        return {f"{r['type']}.{r['name']}" for r in state.get("resources", []) if r.get("mode") == "managed"}

    def sources_of(self, group_ids: list[str], port: int) -> list[str]:
        """The groups the given groups admit ``port`` from (who reaches the database)."""
        if not group_ids:
            return []
        groups = self.client("ec2").describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
        return sorted(
            {
                pair["GroupId"]
                for group in groups
                for rule in group["IpPermissions"]
                if rule.get("FromPort", 0) <= port <= rule.get("ToPort", 65535)
                for pair in rule.get("UserIdGroupPairs", [])
            }
        )

    def instances_in(self, group_ids: list[str]) -> list[str]:
        if not group_ids:
            return []
        reservations = self.client("ec2").describe_instances(
            Filters=[
                {"Name": "instance.group-id", "Values": group_ids},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )["Reservations"]
        return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])

    def bucket_exists(self, bucket: str) -> bool:
        # GetBucketLocation, not HeadBucket: a read-only policy grants s3:Get*, which HEAD is not.
        return self.unless_missing(lambda: self.client("s3").get_bucket_location(Bucket=bucket)) is not None

    def group_names(self, group_ids: list[str]) -> dict[str, str]:
        if not group_ids:
            return {}
        # A filter, not GroupIds: a group already deleted is left out instead of failing the call.
        groups = self.client("ec2").describe_security_groups(
            Filters=[{"Name": "group-id", "Values": sorted(set(group_ids))}]
        )["SecurityGroups"]
        return {g["GroupId"]: g["GroupName"] for g in groups}

    def secret(self, name: str) -> Found | None:
        answer = self.unless_missing(lambda: self.client("secretsmanager").describe_secret(SecretId=name))
        # describe_secret also answers for a partial ARN: only the exact name counts.
        if not answer or answer["Name"] != name or answer.get("DeletedDate"):
            return None
        return Found(answer["ARN"], f"secret {name}")

    def role(self, name: str) -> Found | None:
        answer = self.unless_missing(lambda: self.client("iam").get_role(RoleName=name))
        return Found(name, "IAM role") if answer else None
