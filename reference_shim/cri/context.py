"""What every part of the CRI layer shares: records, backend, strategy, settings, log pumps,
and the teardowns of removed pods."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import VmBackend
from reference_shim.cri.convert.vm_specs import PodFiles, port_specs, shim_serves
from reference_shim.cri.image_records import ImageRecords
from reference_shim.cri.logs import LogPump
from reference_shim.cri.teardowns import PodTeardowns
from reference_shim.relays import HostPorts
from reference_shim.state.records import PodRecord
from reference_shim.state.registry import Registry
from reference_shim.strategies.base import Strategy


@dataclass
class ShimContext:
    registry: Registry
    backend: VmBackend
    strategy: Strategy
    pod_image: str
    state_dir: Path
    host_ports: HostPorts = field(default_factory=HostPorts)
    pumps: dict[str, LogPump] = field(default_factory=dict)
    pumps_lock: threading.Lock = field(default_factory=threading.Lock)
    teardowns: PodTeardowns = field(init=False)
    images: ImageRecords = field(init=False)

    def __post_init__(self) -> None:
        self.teardowns = PodTeardowns(self.registry, self.backend, self.pods_dir)
        self.images = ImageRecords(self.backend.images)

    @property
    def pods_dir(self) -> Path:
        """Where the files the shim writes for each pod live, one folder per pod id."""
        return self.state_dir / "pods"

    def pod_dir(self, pod_id: str) -> Path:
        return self.pods_dir / pod_id

    def pod_files(self, pod_id: str) -> PodFiles:
        """The files written for the pod that exist (each is optional)."""
        folder = self.pod_dir(pod_id)
        resolv_conf, hosts = folder / "resolv.conf", folder / "hosts"
        return PodFiles(
            resolv_conf=resolv_conf if resolv_conf.exists() else None,
            hosts=hosts if hosts.exists() else None,
        )

    def serve_host_ports(self, pod: PodRecord) -> None:
        """Listen on the pod's TCP host ports, if the shim serves them for this pod."""
        if pod.shim_ports:
            mappings = [p for p in port_specs(pod.config) if shim_serves(p)]
            self.host_ports.open(pod.id, mappings, lambda: self.pod_addresses(pod.id))

    def pod_addresses(self, pod_id: str) -> list[str]:
        """Where the pod may be listening: the pod VM, then its containers' own VMs, oldest
        first."""
        pod = self.registry.find_pod(pod_id)
        if pod is None or pod.state != cri.SANDBOX_READY:
            return []
        own = sorted(
            (c for c in self.registry.containers_of(pod_id) if c.ip and not c.in_pod_vm),
            key=lambda container: container.created_at,
        )
        return [pod.ip, *(c.ip for c in own if c.state == cri.CONTAINER_RUNNING)]

    def start_pump(self, container_id: str, vm_id: str, path: Path) -> None:
        """A log copier for the container unless one runs. It starts under the lock: one
        registered but not yet running would look finished to a second caller (StartContainer
        and a reconcile pass at once), and two copiers write every line twice."""
        with self.pumps_lock:
            if container_id in self.pumps and self.pumps[container_id].running:
                return
            pump = LogPump(self.backend, self.registry.store, container_id, vm_id, path)
            self.pumps[container_id] = pump
            pump.start()

    def pump(self, container_id: str) -> LogPump | None:
        with self.pumps_lock:
            return self.pumps.get(container_id)

    def drop_pump(self, container_id: str, wait: float) -> None:
        with self.pumps_lock:
            pump = self.pumps.pop(container_id, None)
        if pump is not None:
            pump.wait(wait)
            pump.close()

    def close_pumps(self) -> None:
        with self.pumps_lock:
            pumps, self.pumps = list(self.pumps.values()), {}
        for pump in pumps:
            pump.close()
