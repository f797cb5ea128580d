"""Policy-scan exceptions, written next to the resource they excuse.

checkov cannot read inline ``checkov:skip`` comments in Terraform JSON (its terraform_json runner
passes no skip list), so each exception lives in the resource's ``//`` comment object instead,
``"//": {"checkov_skip": {"CKV_AWS_88": "why"}}``, which Terraform ignores. ``tools/scan``
honours exactly these: a failed check on a resource that carries its id is reported as skipped,
with the reason.
"""

from __future__ import annotations

from cdktf import TerraformElement

from modules.names import SKIP_KEY


def skip_check(element: TerraformElement, check_id: str, reason: str) -> None:
    if not reason.strip():
        raise ValueError(f"a skip of {check_id} needs a reason")
    element.add_override(f"//.{SKIP_KEY}.{check_id}", reason)
