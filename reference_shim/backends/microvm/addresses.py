"""The VMs' addresses: leases on the bridge's subnet, one per VM (or modelled pod).

Every microvm shim on the machine puts its VMs on the one bridge that ``scripts/services
microvm`` makes, so a shim's own state cannot say which addresses are free: the leases are files
in a folder of the bridge's (``/run``: no VM outlives a reboot), one per address, each naming
the VM folder that holds it, taken under an exclusive ``flock`` of that folder. A lease lasts
until the VM (or pod) is removed, so a shim that restarts never hands out an address still held
by a record of its own, or by another shim's VM. A lease whose VM folder no longer exists (its
shim's state was deleted) is stale, and taken again when the scan reaches it. Addresses are
handed out round robin from where the last scan stopped, so a freed address is the last one
reused (other guests' ARP caches may still name its old MAC).

Hand-written: a few dozen lines over ``ipaddress``; no library leases addresses between
processes through files.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

from reference_shim.errors import ResourceExhausted

_CURSOR = "next"
_LOCK = "lock"


class AddressPool:
    """The subnet of ``host`` (the bridge's own address), less the network, broadcast and host
    addresses, leased through ``folder``."""

    def __init__(self, host: ipaddress.IPv4Interface, folder: Path) -> None:
        self.host = host
        self.folder = folder

    @property
    def prefix(self) -> int:
        return self.host.network.prefixlen

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _candidates(self) -> Iterator[ipaddress.IPv4Address]:
        """Every address of the pool once, from the cursor on, wrapping around."""
        network = self.host.network
        first, last = int(network.network_address) + 1, int(network.broadcast_address) - 1
        try:
            start = int(ipaddress.IPv4Address((self.folder / _CURSOR).read_text().strip()))
        except (FileNotFoundError, ValueError):
            start = first
        if not first <= start <= last:
            start = first
        for number in (*range(start, last + 1), *range(first, start)):
            if number != int(self.host.ip):
                yield ipaddress.IPv4Address(number)

    def _holder(self, address: ipaddress.IPv4Address) -> Path | None:
        """Who holds ``address``: None when it is free or its lease is stale."""
        try:
            owner = Path((self.folder / str(address)).read_text())
        except FileNotFoundError:
            return None
        return owner if owner.exists() else None

    def lease(self, owner: Path) -> ipaddress.IPv4Interface:
        """A free address, leased to ``owner`` (a VM's folder) until ``release``."""
        with self._locked():
            for address in self._candidates():
                if self._holder(address) is None:
                    (self.folder / str(address)).write_text(str(owner))
                    following = ipaddress.IPv4Address(int(address) + 1)
                    (self.folder / _CURSOR).write_text(str(following))
                    return ipaddress.IPv4Interface(f"{address}/{self.prefix}")
        raise ResourceExhausted(
            f"every address of {self.host.network} is leased to a VM (leases in {self.folder})"
        )

    def release(self, address: str, owner: Path) -> None:
        """Free ``address`` if ``owner`` holds it; anything else is left as it is."""
        lease = self.folder / address.partition("/")[0]
        with self._locked(), contextlib.suppress(FileNotFoundError):
            if Path(lease.read_text()) == owner:
                lease.unlink()

    def leases(self) -> dict[str, Path]:
        """Every lease, stale ones too: address -> its owner."""
        with self._locked():
            return {
                path.name: Path(path.read_text())
                for path in self.folder.iterdir()
                if path.name not in {_CURSOR, _LOCK}
            }
