"""How a pod with several containers maps onto VMs (the seed's three phases)."""

from __future__ import annotations

from reference_shim.errors import Unimplemented
from reference_shim.strategies.base import Strategy
from reference_shim.strategies.reject import RejectStrategy

KNOWN = ("reject", "shared-vm", "separate-vms")


def strategy_named(name: str) -> Strategy:
    if name == "reject":
        return RejectStrategy()
    if name in KNOWN:
        raise Unimplemented(
            f"strategy {name!r} is designed but not implemented yet; use --strategy reject"
        )
    raise ValueError(f"unknown strategy {name!r}: choose one of {', '.join(KNOWN)}")
