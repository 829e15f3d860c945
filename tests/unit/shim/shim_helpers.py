"""Configs and waits shared by the shim's unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import BUSYBOX, FakeVm, FakeVmBackend

from harness.client import CallFailed, CriClient
from reference_shim.backends.labels import POD_ID_LABEL
from reference_shim.cri.convert.vm_specs import CONTAINER_ID_LABEL
from reference_shim.server import Shim

StartShim = Callable[[], tuple[Shim, CriClient]]


def pod_config(name: str = "p", attempt: int = 0) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(
            name=name, namespace="ns", uid="uid-" + name, attempt=attempt
        ),
        labels={"app": name},
    )


def container_config(name: str = "c", attempt: int = 0) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        image=cri.ImageSpec(image=BUSYBOX),
        command=["sleep", "1000"],
    )


def running_pod(client: CriClient, names: str) -> tuple[str, list[str]]:
    """A pod with a running container for each name (one letter each), in that order."""
    config = pod_config()
    pod_id = client.run_pod(config)
    containers = []
    for name in names:
        container_id = client.create_container(pod_id, container_config(name), config)
        client.start_container(container_id)
        containers.append(container_id)
    return pod_id, containers


def refused(code: grpc.StatusCode) -> pytest.RaisesExc[CallFailed]:
    return pytest.raises(CallFailed, check=lambda error: error.code is code)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def vm_of(backend: FakeVmBackend, object_id: str) -> FakeVm:
    """The fake VM that realises a pod or container, found by the id label the shim sets."""
    for vm in backend.vms.values():
        labels = vm.spec.labels
        if labels.get(CONTAINER_ID_LABEL, labels.get(POD_ID_LABEL)) == object_id:
            return vm
    raise AssertionError(f"no VM for {object_id}")


def vm_of_id(backend: FakeVmBackend, object_id: str) -> str:
    return next(vm_id for vm_id, vm in backend.vms.items() if vm is vm_of(backend, object_id))


def with_pid(
    config: cri.ContainerConfig, mode: cri.NamespaceMode.ValueType, target: str = ""
) -> cri.ContainerConfig:
    options = config.linux.security_context.namespace_options
    options.pid = mode
    options.target_id = target
    return config
