"""How a pod with several containers maps onto VMs (the seed's three phases)."""

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
