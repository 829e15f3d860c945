"""The microvm VMs' network pieces that need no VM: the address pool (leases in a folder, shared
by every shim on the machine), MACs, and the hosts file."""

from __future__ import annotations

import ipaddress
import threading
from pathlib import Path

import pytest

from reference_shim.backends.base import MountSpec
from reference_shim.backends.microvm.addresses import AddressPool, SubnetPool
from reference_shim.backends.microvm.network import hosts_mount, mac_of
from reference_shim.errors import ResourceExhausted

HOST = ipaddress.IPv4Interface("10.9.0.1/29")  # 10.9.0.2 to 10.9.0.6 for VMs


def owner(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "vms" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pool(tmp_path: Path) -> AddressPool:
    return AddressPool(HOST, tmp_path / "leases")


def test_leases_are_distinct_in_the_subnet_and_never_the_host_or_broadcast(
    tmp_path: Path,
) -> None:
    leased = [pool(tmp_path).lease(owner(tmp_path, str(n))) for n in range(5)]
    assert [str(address) for address in leased] == [f"10.9.0.{n}/29" for n in range(2, 7)]
    with pytest.raises(ResourceExhausted, match=r"10\.9\.0\.0/29"):
        pool(tmp_path).lease(owner(tmp_path, "sixth"))


def test_a_restarted_shim_does_not_hand_out_an_address_still_leased(tmp_path: Path) -> None:
    first = pool(tmp_path).lease(owner(tmp_path, "a"))
    again = AddressPool(HOST, tmp_path / "leases")  # a new process, the same folder
    assert again.leases() == {str(first.ip): owner(tmp_path, "a")}
    assert again.lease(owner(tmp_path, "b")) != first


def test_a_released_address_is_free_again_and_reused_last(tmp_path: Path) -> None:
    addresses = pool(tmp_path)
    first = addresses.lease(owner(tmp_path, "a"))
    addresses.release(str(first), owner(tmp_path, "a"))
    assert str(first.ip) not in addresses.leases()
    assert addresses.lease(owner(tmp_path, "b")) != first  # round robin: others first
    for name in "cde":
        addresses.lease(owner(tmp_path, name))
    assert addresses.lease(owner(tmp_path, "f")) == first  # the pool came round to it


def test_only_the_holder_releases_a_lease(tmp_path: Path) -> None:
    addresses = pool(tmp_path)
    first = addresses.lease(owner(tmp_path, "a"))
    addresses.release(str(first.ip), owner(tmp_path, "b"))
    addresses.release("10.9.0.5", owner(tmp_path, "a"))  # not leased: nothing happens
    assert addresses.leases() == {str(first.ip): owner(tmp_path, "a")}


def test_a_lease_whose_vm_folder_is_gone_is_taken_again(tmp_path: Path) -> None:
    addresses = pool(tmp_path)
    held = [addresses.lease(owner(tmp_path, str(n))) for n in range(5)]
    (tmp_path / "vms" / "2").rmdir()  # a shim's state deleted, its leases left behind
    assert addresses.lease(owner(tmp_path, "new")) == held[2]


def test_shims_leasing_at_once_get_distinct_addresses(tmp_path: Path) -> None:
    got: list[ipaddress.IPv4Interface] = []
    lock = threading.Lock()

    def lease(name: str) -> None:
        address = AddressPool(HOST, tmp_path / "leases").lease(owner(tmp_path, name))
        with lock:
            got.append(address)

    threads = [threading.Thread(target=lease, args=(str(n),)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(got)) == 5


def test_a_vm_mac_is_locally_administered_and_holds_its_address() -> None:
    assert mac_of(ipaddress.IPv4Interface("10.233.1.2/16")) == "02:42:0a:e9:01:02"


def test_a_vm_gets_a_hosts_file_naming_its_address_unless_it_mounts_one(tmp_path: Path) -> None:
    (mount,) = hosts_mount((), tmp_path, "10.233.0.9/16", "pod-host")
    assert mount.container_path == "/etc/hosts"
    assert "10.233.0.9\tpod-host\n" in Path(mount.host_path).read_text()
    pods = MountSpec(str(tmp_path / "pods-hosts"), "/etc/hosts")
    assert hosts_mount((pods,), tmp_path, "10.233.0.9/16", "pod-host") == ()


def test_pod_subnets_are_distinct_blocks_freed_by_their_holder(tmp_path: Path) -> None:
    subnets = SubnetPool(ipaddress.IPv4Network("10.234.0.0/26"), 28, tmp_path / "subnets")
    held = [subnets.lease(owner(tmp_path, str(n))) for n in range(4)]
    assert [str(net) for net in held] == [f"10.234.0.{n}/28" for n in (0, 16, 32, 48)]
    with pytest.raises(ResourceExhausted, match="/28"):
        subnets.lease(owner(tmp_path, "fifth"))
    subnets.release(str(held[1]), owner(tmp_path, "1"))
    assert subnets.lease(owner(tmp_path, "fifth")) == held[1]
