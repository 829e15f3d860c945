"""Pod networks (``PodNetworks``): a bridge of one pod's own, so that ``separate-vms`` keeps a
pod's VMs apart from every other pod's.

A pod network is a bridge ``crpn<11 hex of the pod id>`` with a /28 of 10.234.0.0/16 (next to
the VMs' shared bridge, 10.233/16), the host at its first address. Its subnets are leased as
the VMs' addresses are (``addresses``), to the network's record in the shim's state, so every
shim on the machine takes its own. VMs get no default route, so a VM reaches its own bridge's
subnet only (its pod's VMs and the host); the host's iptables ``FORWARD`` accepts frames bridged
within a ``crpn*`` bridge and drops anything routed into or out of one (``scripts/services
microvm``: static rules, so the shim adds and removes none). The bridge's alias names its
record: a bridge whose record is gone (its shim's state deleted) is stale, removed when a shim
sets up.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

from reference_shim.backends.microvm.addresses import SubnetPool
from reference_shim.backends.microvm.network import LEASES
from reference_shim.errors import BackendError

POD_SUBNETS = ipaddress.IPv4Network("10.234.0.0/16")
POD_PREFIX = 28  # 13 VMs a pod, 4096 pods
PREFIX = "crpn"  # + 11 hex digits of the pod id: an interface name holds 15 bytes


def _ip(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *arguments], capture_output=True, text=True, check=False)


def _ip_checked(*arguments: str) -> None:
    done = _ip(*arguments)
    if done.returncode != 0:
        raise BackendError(f"ip {' '.join(arguments)}: {done.stderr.strip()}")


class PodBridges:
    """This shim's pod networks, recorded in ``records`` (one JSON file a network)."""

    def __init__(self, records: Path, leases: Path = LEASES) -> None:
        self.records = records
        self.leases = leases
        self._subnets = SubnetPool(POD_SUBNETS, POD_PREFIX, leases / "pod-subnets")

    def _record(self, name: str) -> Path:
        return self.records / f"{name}.json"

    def create(self, pod_id: str) -> str:
        name = f"{PREFIX}{pod_id[:11]}"
        record = self._record(name)
        if record.exists():
            return name
        self.records.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"pod_id": pod_id, "subnet": ""}))  # owns the lease
        try:
            subnet = self._subnets.lease(record)
            record.write_text(json.dumps({"pod_id": pod_id, "subnet": str(subnet)}))
            host = next(subnet.hosts())
            self.remove_stale()  # a stale bridge may still hold the subnet its lease lost
            _ip("link", "del", name)  # a stale one of the same name
            _ip_checked("link", "add", name, "type", "bridge")
            _ip_checked("link", "set", "dev", name, "alias", str(record))
            _ip_checked("addr", "add", f"{host}/{POD_PREFIX}", "dev", name)
            _ip_checked("link", "set", "dev", name, "up")
        except BaseException:
            self.remove(name)
            raise
        return name

    def remove(self, name: str) -> None:
        record = self._record(name)
        try:
            subnet = str(json.loads(record.read_text())["subnet"])
        except FileNotFoundError:
            return
        _ip("link", "del", name)
        if subnet:
            self._subnets.release(subnet, record)
        shutil.rmtree(self.leases / name, ignore_errors=True)  # its VMs' address leases
        record.unlink(missing_ok=True)

    def listed(self) -> dict[str, str]:
        found = {}
        for record in self.records.glob(f"{PREFIX}*.json"):
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                found[record.stem] = str(json.loads(record.read_text())["pod_id"])
        return found

    def remove_stale(self) -> None:
        """Remove the pod bridges on this machine whose record is gone: their shim's state
        was deleted while they were up. A bridge's alias names its record."""
        shown = _ip("-j", "link", "show", "type", "bridge")
        for link in json.loads(shown.stdout or "[]") if shown.returncode == 0 else []:
            name, alias = str(link.get("ifname", "")), str(link.get("ifalias", ""))
            if name.startswith(PREFIX) and alias and not Path(alias).exists():
                _ip("link", "del", name)
                shutil.rmtree(self.leases / name, ignore_errors=True)
