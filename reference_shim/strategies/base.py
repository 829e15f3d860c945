"""The contract of a multi-container strategy.

A strategy decides where each workload of a pod runs (a ``Placement``) and whether it can run at
all, and nothing else; the CRI layer does the rest the same way for every strategy. It sees the
pod's other containers (``siblings``) so it can tell which VM is taken and whom a ``TARGET`` PID
namespace names.
"""

from __future__ import annotations

from typing import Protocol

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import Capability, Placement, VmBackend
from reference_shim.state.records import ContainerRecord, PodRecord


class Strategy(Protocol):
    name: str
    # What the backend must be able to do (checked when the shim starts).
    needs: frozenset[Capability]
    # Whether every container of a pod gets the shim's own /etc/hosts for the pod, because
    # the backend cannot give them one shared file (containers in VMs of their own).
    pod_hosts_file: bool
    # Whether the shim serves the pod's TCP host ports itself (reference_shim.relays),
    # because any of the pod's VMs may be the one that listens.
    shim_host_ports: bool

    def place_pod(self, pod: PodRecord) -> Placement:
        """Where the pod VM runs. May make the pod a network of its own first, recorded in
        ``pod.network`` so that removing the pod removes it."""

    def place_container(
        self, pod: PodRecord, siblings: list[ContainerRecord], config: cri.ContainerConfig
    ) -> Placement:
        """Where the container runs, or ``Unimplemented`` (with the reason) when this strategy
        cannot run it in this pod. ``siblings`` are the pod's other containers, their states
        current."""


class BackendStrategy:
    """What the strategies here share: their backend, and pod VMs on its shared network, with
    every container's namespaces given by the backend (no shim-made hosts file or ports)."""

    pod_hosts_file = False
    shim_host_ports = False
    needs = frozenset({Capability.WORKLOAD_IN_POD_VM})  # the first container runs in the pod VM

    def __init__(self, backend: VmBackend) -> None:
        self.backend = backend

    def place_pod(self, pod: PodRecord) -> Placement:
        return Placement.own_vm(self.backend.network())
