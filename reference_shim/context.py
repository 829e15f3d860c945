"""What every part of the CRI layer shares: records, backend, strategy, settings, log pumps."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from reference_shim.backends.base import VmBackend
from reference_shim.logs import LogPump
from reference_shim.registry import Registry
from reference_shim.strategies.base import Strategy


@dataclass
class ShimContext:
    registry: Registry
    backend: VmBackend
    strategy: Strategy
    pod_image: str
    state_dir: Path
    pumps: dict[str, LogPump] = field(default_factory=dict)
    pumps_lock: threading.Lock = field(default_factory=threading.Lock)

    def pod_dir(self, pod_id: str) -> Path:
        return self.state_dir / "pods" / pod_id

    def start_pump(self, container_id: str, vm_id: str, path: Path) -> None:
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
