"""Configs and waits shared by the shim's unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from cri_api.v1 import api_pb2 as cri
from fake_backend import BUSYBOX

from harness.client import CriClient
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


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
