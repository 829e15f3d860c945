"""How a pod with several containers maps onto VMs: one strategy per phase of the seed's plan.

The project's seed planned multi-container pods on a one-VM-per-container runtime in three
*phases*, from the simplest to the most complete. Each strategy here is one of them, and the
modules say which:

1. ``reject``: single-container pods, with the multi-container limit stated (a second live
   container is refused).
2. ``shared-vm``: consolidation, every container of a pod runs in the pod's one VM.
3. ``separate-vms``: networking, each container a VM of its own on a network of the pod's own.

The phases name the plan's order, not a mode of one shim: a shim runs one strategy, chosen with
``--strategy``, and all three are kept because each has its matrix column.
"""

from __future__ import annotations

from collections.abc import Callable

from reference_shim.backends.base import VmBackend
from reference_shim.strategies.base import Strategy
from reference_shim.strategies.reject import RejectStrategy
from reference_shim.strategies.separate_vms import SeparateVmsStrategy
from reference_shim.strategies.shared_vm import SharedVmStrategy

_STRATEGIES: dict[str, Callable[[VmBackend], Strategy]] = {
    "reject": RejectStrategy,
    "shared-vm": SharedVmStrategy,
    "separate-vms": SeparateVmsStrategy,
}


def strategy_named(name: str, backend: VmBackend) -> Strategy:
    try:
        return _STRATEGIES[name](backend)
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}: choose one of {', '.join(_STRATEGIES)}"
        ) from None
