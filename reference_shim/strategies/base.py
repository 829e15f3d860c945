"""The contract of a multi-container strategy.

A strategy decides two things and nothing else: whether a pod may take one more container,
and where each workload runs (a ``Placement``). ``shared-vm`` will place every container
inside the pod VM sharing network, IPC and UTS (and PID when asked); ``separate-vms`` will give
each container its own VM on a per-pod network, which is why the pod VM's placement is the
strategy's choice too.
"""

from __future__ import annotations

from typing import Protocol

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Placement
from reference_shim.cri.records import ContainerRecord, PodRecord


class Strategy(Protocol):
    name: str

    def pod_placement(self, pod: PodRecord, backend_network: str) -> Placement: ...

    def admit(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> None:
        """Refuse (raise ``Unimplemented``) a container the strategy cannot run in this pod."""

    def container_placement(self, pod: PodRecord, config: cri.ContainerConfig) -> Placement: ...
