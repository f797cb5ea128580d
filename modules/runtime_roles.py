"""The two identities the app runs as, one per option: the ECS task role and the EC2 instance role.

They live in ``homu-data``, beside the HMAC key ``SECRET_KEY`` is derived with, so they exist whenever
the key does, whichever option is deployed. The key's policy pins them by their unique ids
(``aws:userid``): a role deleted and created again under the same name has a new id and derives
nothing, and no one can create a role of that name while these exist. They carry no permission here:
each compute attaches what its app calls.
"""

from __future__ import annotations

from constructs import Construct

from modules import aws, iam


class RuntimeRoles(Construct):
    task_role_name: str
    task_role_arn: str
    host_role_name: str
    unique_ids: list[str]  # what aws:userid starts with for a session of either role

    def __init__(
        self, scope: Construct, id_: str, *, task_role_name: str, host_role_name: str, region: str
    ) -> None:
        super().__init__(scope, id_)
        account = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account").account_id
        task = aws.iam_role.IamRole(
            self,
            "task",
            name=task_role_name,
            # Confused-deputy guard: only ECS acting for this account may assume it.
            assume_role_policy=iam.service_trust(
                "ecs-tasks.amazonaws.com",
                source_account=account,
                source_arn=f"arn:aws:ecs:{region}:{account}:*",
            ),
            description="The backend container's own identity (option 1): signs in to PostgreSQL and Redis, derives SECRET_KEY",
        )
        host = aws.iam_role.IamRole(
            self,
            "host",
            name=host_role_name,
            # EC2 sends no aws:SourceAccount/SourceArn, so its trust cannot carry the guard.
            assume_role_policy=iam.service_trust("ec2.amazonaws.com", source_account=None),
            description="The backend host's identity (option 2): Session Manager, db-init's password, the app's sign-ins, SECRET_KEY",
        )
        self.task_role_name, self.task_role_arn = task.name, task.arn
        self.host_role_name = host.name
        self.unique_ids = [task.unique_id, host.unique_id]
