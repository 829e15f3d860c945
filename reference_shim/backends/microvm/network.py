"""The VMs' network: the bridge ``scripts/services microvm`` makes, and one tap per VM on it.

The bridge (``crmicrovm0``, the host at 10.233.0.1/16; ``CRI_MICROVM_BRIDGE`` names another)
has no physical interface, no NAT, and the VMs get no default route: a VM reaches the host and
the other VMs on the bridge, nothing else. Its subnet is read from the bridge itself, so the
services script holds the one place that says it.

Each VM's QEMU makes its tap (``-netdev tap,ifname=...,script=no``: the shim runs as root), and
the shim puts it on the bridge once it exists. The tap is QEMU's, not persistent: it goes when
its QEMU ends, however it ends, so no tap outlives its VM, even after the shim was killed.
The guest's NIC is ``virtio-net-device`` with a MAC made of the VM's address (no two VMs on
the bridge share one; QEMU's default MAC is the same for every VM). iproute2's ``ip`` does the
host's side: the project installs it already, and four commands do not call for a netlink
library.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reference_shim.backends.base import MountSpec
from reference_shim.backends.microvm.addresses import AddressPool, Leases
from reference_shim.errors import BackendError, BackendUnavailable

BRIDGE = os.environ.get("CRI_MICROVM_BRIDGE", "crmicrovm0")
# Where the leases of the bridge's addresses are kept, for every shim on the machine (addresses).
LEASES = Path("/run/cri-conformance/microvm-leases")
_TAP_PREFIX = "crvm"  # + 11 hex digits of the VM id: an interface name holds 15 bytes
_ATTACH_POLL_S = 0.05


def _ip(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *arguments], capture_output=True, text=True, check=False)


def bridge_address(bridge: str = BRIDGE) -> ipaddress.IPv4Interface:
    """The host's address on the bridge, with its prefix: the VMs' subnet."""
    shown = _ip("-j", "-4", "addr", "show", "dev", bridge)
    if shown.returncode != 0:
        raise BackendUnavailable(
            f"no bridge {bridge} for the VMs' network ({shown.stderr.strip()}); run "
            "`scripts/services microvm` (as root)"
        )
    for link in json.loads(shown.stdout or "[]"):
        for address in link.get("addr_info", []):
            return ipaddress.IPv4Interface(f"{address['local']}/{address['prefixlen']}")
    raise BackendUnavailable(
        f"bridge {bridge} has no IPv4 address; run `scripts/services microvm` (as root)"
    )


def address_pool(bridge: str = BRIDGE, leases: Path = LEASES) -> AddressPool:
    return AddressPool(bridge_address(bridge), leases / bridge)


def release_address(bridge: str, address: str, owner: Path, leases: Path = LEASES) -> None:
    """Free a VM's address, whether its bridge still exists or not."""
    Leases(leases / bridge).release(address.partition("/")[0], owner)


def mac_of(address: ipaddress.IPv4Interface) -> str:
    """A locally administered unicast MAC (02:...) holding the VM's address, as Docker does."""
    return "02:42:" + ":".join(f"{byte:02x}" for byte in address.ip.packed)


@dataclass(frozen=True)
class Nic:
    """A VM's network card: its tap on the bridge, its address and MAC."""

    tap: str
    address: ipaddress.IPv4Interface
    bridge: str = BRIDGE

    @classmethod
    def of(cls, vm_id: str, address: str, bridge: str) -> Nic:
        return cls(f"{_TAP_PREFIX}{vm_id[:11]}", ipaddress.IPv4Interface(address), bridge)

    def qemu_arguments(self) -> list[str]:
        return [
            "-netdev", f"tap,id=net0,ifname={self.tap},script=no,downscript=no",
            "-device", f"virtio-net-device,netdev=net0,mac={mac_of(self.address)}",
        ]  # fmt: skip

    def attach(self, deadline: float) -> None:
        """Put the tap QEMU made on the bridge, up; QEMU makes it as it starts, before the
        guest runs, so this waits for it to exist (until ``deadline``, monotonic)."""
        while True:
            done = _ip("link", "set", "dev", self.tap, "master", self.bridge, "up")
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise BackendError(
                    f"cannot put the VM's tap {self.tap} on bridge {self.bridge}: "
                    f"{done.stderr.strip()}"
                )
            time.sleep(_ATTACH_POLL_S)


def hosts_mount(
    mounts: Iterable[MountSpec], folder: Path, address: str, hostname: str
) -> tuple[MountSpec, ...]:
    """An /etc/hosts naming the VM's hostname with its address, as Docker writes one, unless
    the spec mounts one (the pod's, under separate-vms): so that ``hostname -i`` in the
    container names the address ``ip addr`` shows."""
    if not hostname or any(mount.container_path == "/etc/hosts" for mount in mounts):
        return ()
    hosts = folder / "hosts"
    ip = address.partition("/")[0]
    hosts.write_text(
        f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{hostname}\n"
    )
    return (MountSpec(str(hosts), "/etc/hosts"),)
