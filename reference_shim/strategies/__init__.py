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

import importlib
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from reference_shim.backends.base import Capability, VmBackend
    from reference_shim.strategies.base import Strategy

# The one list of strategy names: the shim's ``--strategy`` choices, the harness'
# ``--cri-shim-strategy`` and the matrix runner's ``embedded:<strategy>`` come from it. Each name
# gives its class (``module:Class``), imported only when asked for, so reading the list costs
# nothing (the command lines read it before anything runs). Each strategy names the backend
# capabilities it needs: ``strategy_named`` refuses a backend that lacks one, so an impossible
# pair stops the shim at start, not at a pod's second container.
STRATEGIES: dict[str, str] = {
    "reject": "reference_shim.strategies.reject:RejectStrategy",
    "shared-vm": "reference_shim.strategies.shared_vm:SharedVmStrategy",
    "separate-vms": "reference_shim.strategies.separate_vms:SeparateVmsStrategy",
}


class StrategyKind(Protocol):
    """A strategy class: what it needs of a backend, and how to make one for a backend."""

    needs: frozenset[Capability]

    def __call__(self, backend: VmBackend) -> Strategy: ...


class ImpossiblePair(ValueError):
    """The strategy needs a capability the backend lacks."""


def strategy_kind(name: str) -> StrategyKind:
    try:
        module, _, attribute = STRATEGIES[name].partition(":")
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}"
        ) from None
    return cast("StrategyKind", getattr(importlib.import_module(module), attribute))


def possible_with(backend: VmBackend) -> list[str]:
    """The strategies whose needs ``backend`` meets."""
    return [name for name in STRATEGIES if strategy_kind(name).needs <= backend.capabilities]


def strategy_named(name: str, backend: VmBackend) -> Strategy:
    """The strategy ``name`` over ``backend``; ``ImpossiblePair`` when it cannot run there."""
    kind = strategy_kind(name)
    missing = kind.needs - backend.capabilities
    if missing:
        lacking = "; and that ".join(sorted(capability.value for capability in missing))
        raise ImpossiblePair(
            f"strategy {name!r} needs a backend that {lacking}; the {backend.name} backend does "
            f"not (strategies it can run: {', '.join(possible_with(backend)) or 'none'})"
        )
    return kind(backend)
