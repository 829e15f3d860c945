"""A pod and its container through the apple backend, over the CLI double."""

from __future__ import annotations

from apple_double import BUSYBOX, CliDouble, wait_for
from cri_specs import container_config, create, pod_config, run_pod

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.base import VmState


def test_a_container_carries_its_pod_and_reports_the_workload_exit_code(
    backend: AppleBackend, double: CliDouble
) -> None:
    pod = run_pod(backend, pod_config(hostname="webhost"))
    assert backend.inspect_vm(pod.vm_id).state is VmState.RUNNING
    assert pod.ip == ""  # a modelled pod has no VM until its container runs
    vm_id = create(backend, pod, container_config(BUSYBOX))
    assert vm_id.split(".")[0] == "webhost"
    assert backend.inspect_vm(vm_id).state is VmState.CREATED
    status = backend.start_vm(vm_id)
    assert status.state is VmState.RUNNING
    assert status.ip.startswith("192.168.64.")
    assert backend.inspect_vm(pod.vm_id).ip == status.ip
    double.workload_exits(vm_id, 3)
    wait_for(lambda: backend.inspect_vm(vm_id).state is VmState.EXITED)
    exited = backend.inspect_vm(vm_id)
    assert exited.exit_code == 3
    assert exited.finished_at >= exited.started_at > 0
