"""Pod sandboxes modelled by the backend: Apple's CLI has no pods and no pause container.

A modelled pod is a small JSON file (it must survive a shim restart) holding what the pod's
workload VM will carry: its hostname, port mappings and network. It is "running" from
RunPodSandbox until StopPodSandbox; its IP is the one of its workload VM while that runs.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from reference_shim.backends.apple.documents import AppleContainer
from reference_shim.backends.apple.naming import check_hostname
from reference_shim.backends.apple.translate import DEFAULT_NETWORK, Identity, refuse_pod_features
from reference_shim.backends.base import PortSpec, VmSpec
from reference_shim.backends.labels import POD_ID_LABEL
from reference_shim.errors import Unimplemented

HANDLE_PREFIX = "pod:"  # Apple ids never hold ':', so a handle is never an Apple container's id
CARRIER_LABEL = "io.cri-conformance.shim.apple.pod"  # on the workload VM carrying a pod's identity


@dataclass(frozen=True)
class ModelledPod:
    handle: str
    pod_id: str
    hostname: str
    network: str
    ports: tuple[PortSpec, ...]
    labels: dict[str, str]
    running: bool = False

    @property
    def identity(self) -> Identity:
        return Identity(hostname=self.hostname, network=self.network, ports=self.ports)


def lender(pod: ModelledPod, containers: list[AppleContainer]) -> AppleContainer | None:
    """The running VM that lends the pod its IP: the one carrying its identity, else (a pod
    whose containers have VMs of their own) its first-started running container."""
    running = [c for c in containers if c.state == "running"]
    carrying = [c for c in running if c.labels.get(CARRIER_LABEL) == pod.handle]
    members = sorted(
        (c for c in running if c.labels.get(POD_ID_LABEL) == pod.pod_id),
        key=lambda c: c.started_at,
    )
    chosen = carrying or members
    return chosen[0] if chosen else None


class ModelledPods:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, handle: str) -> Path:
        return self.folder / (handle.removeprefix(HANDLE_PREFIX) + ".json")

    @staticmethod
    def _safe(handle: str) -> bool:
        """Whether ``handle`` can name a file in the folder (no other VM id is ever a pod's:
        the pod's file simply is not there)."""
        return "/" not in handle and not handle.removeprefix(HANDLE_PREFIX).startswith(".")

    def create(self, spec: VmSpec, labels: dict[str, str]) -> ModelledPod:
        if spec.placement.inside or spec.placement.pid_of:
            raise Unimplemented("a pod sandbox cannot run inside another VM on Apple's CLI")
        refuse_pod_features(spec)
        check_hostname(spec.hostname)
        pod = ModelledPod(
            handle=HANDLE_PREFIX + spec.name,
            pod_id=spec.pod_id or spec.name,
            hostname=spec.hostname,
            network=spec.placement.network or DEFAULT_NETWORK,
            ports=spec.ports,
            labels={**spec.labels, **labels},
        )
        self._save(pod)
        return pod

    def _save(self, pod: ModelledPod) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        document = {**asdict(pod), "ports": [asdict(port) for port in pod.ports]}
        partial = self._path(pod.handle).with_suffix(".partial")
        partial.write_text(json.dumps(document))
        partial.replace(self._path(pod.handle))

    def get(self, handle: str) -> ModelledPod | None:
        """The modelled pod ``handle`` names; None for a removed pod and for any other VM id."""
        if not self._safe(handle):
            return None
        try:
            document = json.loads(self._path(handle).read_text())
        except FileNotFoundError:
            return None
        ports = tuple(PortSpec(**port) for port in document.pop("ports"))
        return ModelledPod(**document, ports=ports)

    def set_running(self, handle: str, running: bool) -> ModelledPod | None:
        with self._lock:
            pod = self.get(handle)
            if pod is not None and pod.running != running:
                pod = replace(pod, running=running)
                self._save(pod)
            return pod

    def remove(self, handle: str) -> None:
        if self._safe(handle):
            self._path(handle).unlink(missing_ok=True)

    def of_pod(self, pod_id: str) -> ModelledPod | None:
        return next((pod for pod in self.all() if pod.pod_id == pod_id), None)

    def all(self) -> list[ModelledPod]:
        if not self.folder.exists():
            return []
        found = (self.get(HANDLE_PREFIX + path.stem) for path in self.folder.glob("*.json"))
        return [pod for pod in found if pod is not None]
