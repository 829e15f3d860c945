"""After a restart the shim keeps removing a killed shim's leftovers, never what it is making."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import StartShim, pod_config, wait_for

from reference_shim.backends.base import Placement, VmSpec
from reference_shim.backends.labels import POD_ID_LABEL
from reference_shim.cri import recovery
from reference_shim.cri.convert.vm_specs import KIND_LABEL
from reference_shim.cri.recovery import reconcile

GONE_POD = "f" * 64  # a pod a killed shim was making: never saved


@pytest.fixture(autouse=True)
def quick_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "LATE_RECONCILES_S", (0.1,) * 100)


@pytest.mark.parametrize("strategy", ["separate-vms"])
def test_leftovers_that_appear_after_the_restart_are_removed(
    start_shim: StartShim, backend: FakeBackend, tmp_path: Path
) -> None:
    """Docker finishes a dead shim's creates after the new one first looked."""
    start_shim()
    spec = VmSpec(
        name="late",
        image="pause",
        argv=(),
        labels={KIND_LABEL: "pod", POD_ID_LABEL: GONE_POD},
        placement=Placement.own_vm("fake-net"),
    )
    late_vm = backend.create_vm(spec)
    late_network = backend.create_pod_network(GONE_POD)
    late_files = tmp_path / "state" / "pods" / GONE_POD
    late_files.mkdir(parents=True)
    wait_for(lambda: late_vm not in backend.vms)
    wait_for(lambda: late_network not in backend.pod_nets and not late_files.exists())


def test_files_of_a_pod_never_saved_are_removed_at_start(
    start_shim: StartShim, tmp_path: Path
) -> None:
    late_files = tmp_path / "state" / "pods" / GONE_POD
    late_files.mkdir(parents=True)
    (late_files / "resolv.conf").write_text("nameserver 10.0.0.1\n")
    start_shim()
    assert not late_files.exists()


@pytest.mark.parametrize("strategy", ["separate-vms"])
def test_a_pod_being_made_is_not_taken_for_a_leftover(
    start_shim: StartShim, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim, client = start_shim()
    created, release = threading.Event(), threading.Event()
    create_vm = backend.create_vm

    def slow_create_vm(spec: VmSpec) -> str:
        vm_id = create_vm(spec)
        created.set()
        release.wait(10)
        return vm_id

    monkeypatch.setattr(backend, "create_vm", slow_create_vm)
    made: list[str] = []
    run = threading.Thread(target=lambda: made.append(client.run_pod(pod_config())))
    run.start()
    assert created.wait(10)
    reconcile(shim.ctx)
    assert len(backend.vms) == 1
    assert len(backend.pod_nets) == 1
    release.set()
    run.join(10)
    assert client.pod_status(made[0]).status.state == cri.SANDBOX_READY
