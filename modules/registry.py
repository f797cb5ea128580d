"""ECR repository for the backend image: scanned, immutable tags, encrypted, pruned."""

from __future__ import annotations

import json
from typing import Literal

from constructs import Construct

from modules import aws
from modules.policy import skip_check

# Untagged layers left by rebuilds are worthless after a week.
UNTAGGED_DAYS = 7


class Registry(Construct):
    """The image repository CD pushes commit-tagged images to."""

    repository_url: str  # registry/name, what images are tagged with
    arn: str  # for pull (execution role) and push (deploy role) permissions
    name: str  # the repository name

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        keep_images: int,
        force_delete: bool,
        kms_key_arn: str,
        encryption: Literal["KMS", "AES256"] = "KMS",
    ) -> None:
        super().__init__(scope, id_)
        repository = aws.ecr_repository.EcrRepository(
            self,
            "repository",
            name=name,
            # Deploys reference commit tags; an immutable tag always means the same image.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configuration=[
                aws.ecr_repository.EcrRepositoryEncryptionConfiguration(
                    encryption_type=encryption, kms_key=kms_key_arn if encryption == "KMS" else None
                )
            ],
            force_delete=force_delete,
        )
        if encryption == "AES256":
            skip_check(
                repository,
                "CKV_AWS_136",
                "an adopted repository keeps the AES-256 encryption it was created with: another "
                "encryption replaces the repository and deletes its images (docs/adopting.md)",
            )
        aws.ecr_lifecycle_policy.EcrLifecyclePolicy(
            self,
            "lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"Expire untagged images after {UNTAGGED_DAYS} days",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": UNTAGGED_DAYS,
                            },
                            "action": {"type": "expire"},
                        },
                        {
                            "rulePriority": 2,
                            "description": f"Keep the last {keep_images} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": keep_images,
                            },
                            "action": {"type": "expire"},
                        },
                    ]
                }
            ),
        )
        self.repository_url = repository.repository_url
        self.arn = repository.arn
        self.name = repository.name
