"""A pod's host ports, relayed to the pod's address on the bridge, from its start to its stop.

Userspace relays (``reference_shim.relays``), not iptables DNAT on the bridge: a relay dies
with the shim, so a killed shim leaves no rule behind for the next to find and clean; it binds
the ``host_ip`` asked for (an address in use is refused at once, as Docker refuses it); and it
reaches a VM from loopback, which DNAT can only do with ``route_localnet`` set on the host's
interfaces, a change to the host this project does not make. Its price: the workload sees every
connection come from the host's address on the bridge, not from the client. TCP and UDP; SCTP
is refused (``translate``). A shim that restarts relays the ports of its running pods again
(``MicrovmBackend.setup``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from reference_shim.backends.base import PortSpec
from reference_shim.relays import HostPorts


def ports_json(ports: tuple[PortSpec, ...]) -> list[dict[str, Any]]:
    return [asdict(port) for port in ports]


class PodPorts:
    """The host ports of this shim's running pods, by pod VM id."""

    def __init__(self) -> None:
        self._relays = HostPorts()

    def open(self, vm_id: str, document: dict[str, Any]) -> None:
        """Relay the ports of the pod whose VM document this is (all or none)."""
        mappings = [PortSpec(**port) for port in document.get("ports", [])]
        mappings = [mapping for mapping in mappings if mapping.host_port > 0]
        address = str(document.get("address", "")).partition("/")[0]
        if mappings and address:
            self._relays.open(vm_id, mappings, lambda: [address])

    def close(self, vm_id: str) -> None:
        self._relays.close(vm_id)

    def close_all(self) -> None:
        self._relays.close_all()
