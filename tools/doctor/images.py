"""Whether the image each container of the task definition names is in ECR (``ecr:DescribeImages``)."""

from __future__ import annotations

import re
from typing import Any

from modules.names import FARGATE_STACK
from tools.doctor.aws import Aws, CallFailed
from tools.doctor.classify import IMAGE_MISSING
from tools.doctor.fixes import Names, fixes_for
from tools.doctor.model import Check, ok, problem, unchecked

AREA = "tasks"
ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)"
    r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)


def image_checks(aws: Aws, definition: dict[str, Any], names: Names) -> list[Check]:
    revision = f"{definition['family']}:{definition['revision']}"
    images = dict.fromkeys(c["image"] for c in definition.get("containerDefinitions", []))
    return [_image(aws, image, revision, names) for image in images]


def _image(aws: Aws, image: str, revision: str, names: Names) -> Check:
    title = f"the image of {revision} is in ECR"
    match = ECR_IMAGE.match(image)
    if not match:
        return unchecked(FARGATE_STACK, AREA, title, f"{image} is not an ECR image: nothing to ask ECR")
    repository, registry = match["repository"], match["registry"]
    wanted = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    shown = wanted.get("imageTag") or wanted["imageDigest"]
    try:
        found = aws.call(
            "ecr", "describe_images", registryId=registry, repositoryName=repository, imageIds=[wanted]
        )
        pushed = found["imageDetails"][0].get("imagePushedAt")
        return ok(
            FARGATE_STACK,
            AREA,
            title,
            f"{repository}:{shown} pushed {pushed:%Y-%m-%d %H:%M} UTC" if pushed else f"{repository}:{shown}",
        )
    except CallFailed as error:
        if error.code == "RepositoryNotFoundException":
            return problem(
                FARGATE_STACK,
                AREA,
                title,
                f"the repository {repository} does not exist",
                [f"python -m tools.cdktf deploy {FARGATE_STACK}", *fixes_for(IMAGE_MISSING, names)],
            )
        if error.code != "ImageNotFoundException":
            return unchecked(FARGATE_STACK, AREA, title, str(error))
    try:
        details = aws.pages(
            "ecr", "describe_images", "imageDetails", registryId=registry, repositoryName=repository
        )
    except CallFailed:
        details = []
    newest = sorted(
        (d for d in details if d.get("imageTags")), key=lambda d: str(d.get("imagePushedAt")), reverse=True
    )
    tags = ", ".join(d["imageTags"][0] for d in newest[:3]) or "none"
    return problem(
        FARGATE_STACK,
        AREA,
        title,
        f"{repository}:{shown} is not in ECR (CannotPullContainerError ... not found); newest tags there: {tags}",
        fixes_for(IMAGE_MISSING, names),
    )
