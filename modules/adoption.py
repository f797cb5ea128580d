"""Terraform ``import`` blocks for what a deployment built by hand already holds (``adoption.imports``).

Each address is the one Terraform shows in a plan (``TYPE.LOGICAL_ID``); cdktf writes the block with
``import_from``, so ``terraform plan`` says "will be imported" and the first apply adopts the resource
into the state instead of creating a second one beside it or colliding with its name.
"""

from __future__ import annotations

from collections.abc import Mapping

from cdktf import TerraformResource, TerraformStack

from modules.settings import SettingsError


def addresses(stack: TerraformStack) -> dict[str, TerraformResource]:
    """Every resource of ``stack`` by its Terraform address."""
    return {
        f"{node.terraform_resource_type}.{node.friendly_unique_id}": node
        for node in stack.node.find_all()
        if isinstance(node, TerraformResource)
    }


def import_existing(stack: TerraformStack, imports: Mapping[str, str]) -> None:
    """Writes one import block per entry; an address the stack does not have is a settings error
    (nothing is synthesized rather than a stack that silently creates what it should import)."""
    resources = addresses(stack)
    unknown = sorted(set(imports) - set(resources))
    if unknown:
        raise SettingsError(
            [
                f"setting adoption.imports.{stack.node.id}: {address} is not a resource of "
                f"{stack.node.id}; allowed: its addresses (`python -m tools.adopt` writes them)"
                for address in unknown
            ]
        )
    for address, import_id in sorted(imports.items()):
        resources[address].import_from(import_id)
