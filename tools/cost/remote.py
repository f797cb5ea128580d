"""Values a stack reads from another stack's state, looked up in that stack's synthesized JSON.

Since the split, the computes take their subnets (and more) from ``homu-data``'s outputs, so a count
that decides a price (an ALB's AZs, one public IPv4 each) is no longer in their own JSON. The
``terraform_remote_state`` data source is named after the stack it reads
(``modules.stacks.base.remote_state``) and synthesis writes every stack beside the others, so
``${data.terraform_remote_state.X.outputs.Y}`` is output ``Y`` of the stack directory ``../X``.
"""

from __future__ import annotations

from typing import Any

from tools.cost.model import Unpriced
from tools.tfjson import Stack, TerraformJsonError, read_stack, remote_output


def resolve(stack: Stack, value: Any) -> Any:
    """``value``, or the literal value of the remote output it names in full; raises Unpriced when
    that output cannot be read (the producer was not synthesized beside ``stack``)."""
    reference = remote_output(value)
    if reference is None or reference[0] not in stack.data("terraform_remote_state"):
        return value
    producer, output = reference
    directory = stack.directory.parent / producer
    try:
        outputs = read_stack(directory).outputs
    except TerraformJsonError:
        raise Unpriced(
            f"{value} comes from stack {producer}, which is not synthesized beside this one"
        ) from None
    if output not in outputs:
        raise Unpriced(f"{value}: stack {producer} has no output {output!r}")
    return outputs[output].get("value")
