"""ECR: scanned, immutable, encrypted, pruned."""

from __future__ import annotations

import json


def test_repository_is_scanned_immutable_and_kms_encrypted(default, production):
    repository = default["homu-fargate"].resource("aws_ecr_repository")
    assert repository["name"] == "homu-backend"
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"] == {"scan_on_push": True}
    # The stack's own key, not aws/ecr (tests/test_encryption.py checks which key).
    assert [block["encryption_type"] for block in repository["encryption_configuration"]] == ["KMS"]
    assert repository["force_delete"] is True
    assert production["homu-fargate"].resource("aws_ecr_repository")["force_delete"] is False


def test_lifecycle_keeps_the_last_images_and_drops_untagged_ones(default, synth):
    rules = json.loads(default["homu-fargate"].resource("aws_ecr_lifecycle_policy")["policy"])["rules"]
    assert [r["selection"] for r in rules] == [
        {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
        {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
    ]
    assert all(r["action"] == {"type": "expire"} for r in rules)
    kept = json.loads(
        synth(ecr_keep_images=5)["homu-fargate"].resource("aws_ecr_lifecycle_policy")["policy"]
    )["rules"]
    assert kept[1]["selection"]["countNumber"] == 5


def test_ec2_stack_has_no_registry(default):
    assert default["homu-ec2"].resources("aws_ecr_repository") == {}
