"""Application Auto Scaling: the tags of scalable targets."""

from __future__ import annotations

import json
from typing import Any


def patch_tags() -> None:
    """Application Auto Scaling keeps the tags of a scalable target.

    moto accepts ``Tags`` on RegisterScalableTarget but drops them and implements neither
    ListTagsForResource nor TagResource/UntagResource; the provider reads the tags back after every
    create (its default tags apply to the target) and retried the 500 for many minutes.
    """
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as Response

    def tags(response: Any) -> dict[str, dict[str, str]]:
        return response.applicationautoscaling_backend.__dict__.setdefault("rehearsal_tags", {})

    original_register = Response.register_scalable_target

    def register_scalable_target(self):
        body = original_register(self)
        if self._get_param("Tags"):
            tags(self).setdefault(json.loads(body)["ScalableTargetARN"], {}).update(self._get_param("Tags"))
        return body

    def list_tags_for_resource(self):
        return json.dumps({"Tags": tags(self).get(self._get_param("ResourceARN"), {})})

    def tag_resource(self):
        tags(self).setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return json.dumps({})

    def untag_resource(self):
        current = tags(self).setdefault(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            current.pop(key, None)
        return json.dumps({})

    Response.register_scalable_target = register_scalable_target
    Response.list_tags_for_resource = list_tags_for_resource
    Response.tag_resource = tag_resource
    Response.untag_resource = untag_resource
