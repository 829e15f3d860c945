"""Networks of one pod each (for separate-vms): Apple networks on macOS 26, refused on 15."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest
from apple_double import BUSYBOX, CliDouble
from cri_specs import container_config, container_spec, pod_config

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.base import Placement, VmState
from reference_shim.cri.convert import vm_specs
from reference_shim.errors import ShimError
from reference_shim.state import ids
from reference_shim.state.records import PodRecord


def test_a_pod_network_is_made_once_labelled_and_listed(
    backend: AppleBackend, double: CliDouble
) -> None:
    name = backend.create_pod_network("ab" * 32)
    assert backend.create_pod_network("ab" * 32) == name
    creates = [argv for argv in double.calls("network") if argv[1] == "create"]
    assert len(creates) == 1
    assert f"io.cri-conformance.shim.instance={backend.instance}" in creates[0]
    assert creates[0][-1] == name
    assert backend.pod_networks() == {name: "ab" * 32}
    other = AppleBackend(double.cli(), double.root.parent / "other-state", "fedcba9876543210")
    assert other.pod_networks() == {}


def test_a_pods_containers_get_vms_of_their_own_on_its_network(
    backend: AppleBackend, double: CliDouble
) -> None:
    pod = PodRecord(
        id=ids.new_id(), config=pod_config(hostname="spread"), runtime_handler="", created_at=1
    )
    network = backend.create_pod_network(pod.id)
    pod.vm_id = backend.create_vm(vm_specs.pod_spec(pod, "unused", Placement.own_vm(network)))
    backend.start_vm(pod.vm_id)
    spec = container_spec(backend, pod, container_config(BUSYBOX))
    first = backend.create_vm(replace(spec, placement=Placement.own_vm(network)))
    assert double.last("create")[double.last("create").index("--network") + 1] == network
    assert first.split(".")[0] == "spread"  # the pod's hostname, on a VM of its own
    ip = backend.start_vm(first).ip
    assert backend.inspect_vm(pod.vm_id).ip == ip  # the pod's IP is its first container's
    with pytest.raises(ShimError) as failure:
        backend.remove_pod_network(network)  # a container is still on it
    assert failure.value.code is grpc.StatusCode.INTERNAL
    backend.remove_vm(first)
    backend.remove_vm(pod.vm_id)
    backend.remove_pod_network(network)
    backend.remove_pod_network(network)  # already gone
    assert backend.pod_networks() == {}
    assert backend.inspect_vm(pod.vm_id).state is VmState.MISSING


def test_macos_15_has_no_pod_networks(backend: AppleBackend, double: CliDouble) -> None:
    double.settings(macos=15)
    assert backend.pod_networks() == {}
    with pytest.raises(ShimError) as failure:
        backend.create_pod_network("cd" * 32)
    assert failure.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "macOS 26" in str(failure.value)
