"""The stacks. Composition only: every resource lives in the construct named after its concern.

Deployed in this order, each on the state of the one before:

* ``homu-state`` (``state.py``): the remote state bucket and its key, on a local backend;
* ``homu-data`` (``data.py``): network, the data tier's security groups, PostgreSQL, Redis, the
  SECRET_KEY key, alarms, the alert topic. It publishes what the computes need as outputs (``DataTier``);
* ``homu-fargate`` and ``homu-ec2`` (``fargate.py``, ``ec2.py``): the guide's two computes, each
  reading ``homu-data``'s outputs from its state. Either or both run on the same database and cache,
  and destroying one never touches the data.
"""

from modules.stacks.data import DataStack, DataTier
from modules.stacks.ec2 import Ec2Stack
from modules.stacks.fargate import FargateStack
from modules.stacks.state import StateStack

__all__ = ["DataStack", "DataTier", "Ec2Stack", "FargateStack", "StateStack"]
