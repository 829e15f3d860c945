"""The contract's networks: the backend's own, a pod VM's address, and pod networks."""

from __future__ import annotations

import ipaddress

import pytest
from contract_drivers import Driver, Script, wait_for

from reference_shim.backends.base import (
    Capability,
    Namespace,
    Placement,
    VmState,
    pod_networks,
)

POD_NAMESPACES = frozenset({Namespace.NETWORK, Namespace.IPC, Namespace.UTS})


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_the_backend_network_exists_after_setup(driver: Driver) -> None:
    assert driver.backend.network()
    assert driver.backend.network_status() == (True, "")
    assert driver.backend.ready() == (True, "")


def test_a_vm_of_its_own_has_an_address_on_the_network(driver: Driver) -> None:
    vm_id = driver.run(Script())
    assert address(driver.backend.inspect_vm(vm_id).ip)


def test_a_workload_in_its_pod_vm_gives_the_pod_its_address(driver: Driver) -> None:
    """``Capability.WORKLOAD_IN_POD_VM``: every backend has it."""
    assert Capability.WORKLOAD_IN_POD_VM in driver.backend.capabilities
    pod_id, pod_vm = driver.pod()
    workload = driver.run(Script(), Placement(inside=pod_vm, shared=POD_NAMESPACES), pod_id)
    assert driver.backend.inspect_vm(workload).state is VmState.RUNNING
    wait_for(lambda: bool(driver.backend.inspect_vm(pod_vm).ip))
    assert address(driver.backend.inspect_vm(pod_vm).ip)


def test_pod_networks_are_made_once_listed_and_removed_idempotently(driver: Driver) -> None:
    networks = pod_networks(driver.backend)
    if networks is None:
        pytest.fail(f"the {driver.name} backend declares no pod networks; every backend here does")
    pod_id = "ab" * 32
    name = driver.pod_network(pod_id)
    assert networks.create_pod_network(pod_id) == name
    assert networks.pod_networks()[name] == pod_id
    vm_id = driver.run(Script(), Placement.own_vm(name))
    assert address(driver.backend.inspect_vm(vm_id).ip)
    driver.backend.remove_vm(vm_id)
    networks.remove_pod_network(name)
    networks.remove_pod_network(name)
    assert name not in networks.pod_networks()
