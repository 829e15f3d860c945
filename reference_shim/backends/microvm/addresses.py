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


class Leases:
    """Names leased to owners through files in ``folder``, taken under its lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _holder(self, name: str) -> Path | None:
        """Who holds ``name``: None when it is free or its lease is stale."""
        try:
            owner = Path((self.folder / name).read_text())
        except FileNotFoundError:
            return None
        return owner if owner.exists() else None

    def take(self, names: list[str], owner: Path) -> str | None:
        """The first free one of ``names`` after the one taken last (round robin), leased
        to ``owner``; None when every one is held."""
        with self._locked():
            try:
                after = names.index((self.folder / _CURSOR).read_text().strip()) + 1
            except (FileNotFoundError, ValueError):
                after = 0
            for name in (*names[after:], *names[:after]):
                if self._holder(name) is None:
                    (self.folder / name).write_text(str(owner))
                    (self.folder / _CURSOR).write_text(name)
                    return name
        return None

    def release(self, name: str, owner: Path) -> None:
        """Free ``name`` if ``owner`` holds it; anything else is left as it is."""
        with self._locked(), contextlib.suppress(FileNotFoundError):
            if Path((self.folder / name).read_text()) == owner:
                (self.folder / name).unlink()

    def leases(self) -> dict[str, Path]:
        """Every lease, stale ones too: name -> its owner."""
        with self._locked():
            return {
                path.name: Path(path.read_text())
                for path in self.folder.iterdir()
                if path.name not in {_CURSOR, _LOCK}
            }


class AddressPool:
    """The subnet of ``host`` (the bridge's own address), less the network, broadcast and host
    addresses, leased through ``folder``."""

    def __init__(self, host: ipaddress.IPv4Interface, folder: Path) -> None:
        self.host = host
        self.folder = folder
        self._leases = Leases(folder)

    def lease(self, owner: Path) -> ipaddress.IPv4Interface:
        """A free address, leased to ``owner`` (a VM's folder) until ``release``."""
        hosts = [str(ip) for ip in self.host.network.hosts() if ip != self.host.ip]
        taken = self._leases.take(hosts, owner)
        if taken is None:
            raise ResourceExhausted(
                f"every address of {self.host.network} is leased to a VM (leases in {self.folder})"
            )
        return ipaddress.IPv4Interface(f"{taken}/{self.host.network.prefixlen}")

    def release(self, address: str, owner: Path) -> None:
        self._leases.release(address.partition("/")[0], owner)

    def leases(self) -> dict[str, Path]:
        return self._leases.leases()


class SubnetPool:
    """Subnets of ``prefix`` bits carved from ``network``, one per pod network, leased through
    ``folder`` (named by their first address)."""

    def __init__(self, network: ipaddress.IPv4Network, prefix: int, folder: Path) -> None:
        self.network = network
        self.prefix = prefix
        self._leases = Leases(folder)

    def lease(self, owner: Path) -> ipaddress.IPv4Network:
        subnets = [str(net.network_address) for net in self.network.subnets(new_prefix=self.prefix)]
        taken = self._leases.take(subnets, owner)
        if taken is None:
            raise ResourceExhausted(f"every /{self.prefix} of {self.network} is leased")
        return ipaddress.IPv4Network(f"{taken}/{self.prefix}")

    def release(self, subnet: str, owner: Path) -> None:
        self._leases.release(subnet.partition("/")[0], owner)
