"""An in-memory VM backend, only for unit tests of the shim's own CRI logic.

Conformance runs and benchmarks never use it; they drive the Docker backend.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from reference_shim.backends.base import (
    Capability,
    ExecResult,
    FsUsage,
    ImageChange,
    ImageChanges,
    ImageInfo,
    OutputRecord,
    ProcessUser,
    ResourceSpec,
    VmChange,
    VmChanges,
    VmSpec,
    VmState,
    VmStats,
    VmStatus,
)
from reference_shim.errors import FailedPrecondition, NotFound

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
PAUSE = "127.0.0.1:5000/cri-conformance/pause:3.9"


def image(reference: str, number: int) -> ImageInfo:
    return ImageInfo(
        id=f"sha256:{number:064x}",
        repo_tags=(reference,),
        repo_digests=(f"{reference.rsplit(':', 1)[0]}@sha256:{number + 100:064x}",),
        size=1000 + number,
        user="",
        entrypoint=(),
        cmd=("sh",),
    )


class FakeImages:
    """An image store that reports each change made through it (it follows, as Docker's)."""

    def __init__(self) -> None:
        self.images = {BUSYBOX: image(BUSYBOX, 1), PAUSE: image(PAUSE, 2)}
        self.removed: list[str] = []
        self._watchers: list[ImageChanges] = []
        self._lock = threading.Lock()

    def pull(self, reference: str, username: str, password: str) -> ImageInfo:
        info = self.images.setdefault(reference, image(reference, len(self.images) + 1))
        self._report(reference, ImageChange.ADDED)
        return info

    def get(self, reference: str) -> ImageInfo | None:
        for info in self.images.values():
            if reference in {*info.repo_tags, info.id}:
                return info
        return None

    def list_images(self) -> list[ImageInfo]:
        return list(self.images.values())

    def remove(self, image_id: str) -> None:
        self.removed.append(image_id)
        self.images = {k: v for k, v in self.images.items() if v.id != image_id}
        self._report(image_id, ImageChange.REMOVED)

    def _report(self, reference: str, change: ImageChange) -> None:
        with self._lock:
            for watcher in self._watchers:
                watcher.changed(reference, change)

    def watch_images(self, changes: ImageChanges, stop: threading.Event) -> None:
        with self._lock:
            self._watchers.append(changes)
            changes.following()
        stop.wait()
        with self._lock:
            self._watchers.remove(changes)

    def fs_usage(self) -> FsUsage:
        return FsUsage(mountpoint="/fake", used_bytes=123, inodes_used=4)

    def mountpoint(self) -> str:
        return "/fake"


@dataclass
class FakeVm:
    spec: VmSpec
    state: VmState = VmState.CREATED
    exit_code: int | None = None
    ip: str = ""
    started_at: int = 0
    finished_at: int = 0
    oom_killed: bool = False
    output: list[OutputRecord] = field(default_factory=list)
    resources: ResourceSpec | None = None


class FakeOutput:
    """Follows a fake VM's output until it exits or the reader closes."""

    def __init__(self, backend: FakeVmBackend, vm_id: str, stream: str, since: int) -> None:
        self._backend, self._vm_id, self._stream, self._since = backend, vm_id, stream, since
        self._closed = False

    def __iter__(self) -> Iterator[OutputRecord]:
        position = 0
        with self._backend.changed:
            while not self._closed:
                vm = self._backend.vms.get(self._vm_id)
                if vm is None:
                    return
                for record in vm.output[position:]:
                    if record.stream == self._stream and record.timestamp >= self._since:
                        yield record
                position = len(vm.output)
                if vm.state is VmState.EXITED:
                    return
                self._backend.changed.wait(0.05)

    def close(self) -> None:
        self._closed = True


class FakeVmBackend:
    """A backend with one shared network only (like Apple's CLI on macOS 15)."""

    name = "fake"
    models_pods = False
    capabilities = frozenset({Capability.WORKLOAD_IN_POD_VM, Capability.SHARED_POD_VM})

    def __init__(self) -> None:
        self.images = FakeImages()
        self.vms: dict[str, FakeVm] = {}
        self.network_exists = True
        self.changed = threading.Condition()
        self._ids = itertools.count(1)
        self._watchers: list[VmChanges] = []
        self.reads: Counter[str] = Counter()  # inspect_vm and list_vms calls, by name
        # What exec_sync answers for a command; any other one echoes its argv, exit code len(argv).
        self.exec_replies: dict[tuple[str, ...], ExecResult] = {}

    def setup(self) -> None:
        self.network_exists = True

    def teardown(self) -> None:
        if not self.vms:
            self.network_exists = False

    def network(self) -> str:
        return "fake-net"

    def ready(self) -> tuple[bool, str]:
        return True, ""

    def network_status(self) -> tuple[bool, str]:
        return (True, "") if self.network_exists else (False, "fake-net is gone")

    def create_vm(self, spec: VmSpec) -> str:
        vm_id = f"{next(self._ids):064x}"
        with self.changed:
            self.vms[vm_id] = FakeVm(spec=spec)
        return vm_id

    def _vm(self, vm_id: str) -> FakeVm:
        vm = self.vms.get(vm_id)
        if vm is None:
            raise NotFound(f"fake VM {vm_id[:12]} does not exist")
        return vm

    def start_vm(self, vm_id: str) -> VmStatus:
        with self.changed:
            vm = self._vm(vm_id)
            vm.state, vm.started_at = VmState.RUNNING, time.time_ns()
            vm.ip = "" if vm.spec.placement.inside else f"10.88.0.{len(self.vms) + 1}"
            self.changed.notify_all()
        self._report(vm_id, VmChange.STARTED)
        return self._status(vm_id)

    def exit(self, vm_id: str, code: int) -> None:
        """The workload ends on its own; the shim hears of it as a backend event would say."""
        with self.changed:
            vm = self.vms[vm_id]
            vm.state, vm.exit_code, vm.finished_at = VmState.EXITED, code, time.time_ns()
            self.changed.notify_all()
        self._report(vm_id, VmChange.EXITED)

    def _report(self, vm_id: str, change: VmChange) -> None:
        for watcher in list(self._watchers):
            watcher.changed(vm_id, change)

    def oom_kill(self, vm_id: str) -> None:
        """The kernel reports an OOM kill in the VM (its exit comes apart, with ``exit``)."""
        self.vms[vm_id].oom_killed = True
        self._report(vm_id, VmChange.OOM_KILLED)

    def emit(self, vm_id: str, stream: str, data: bytes, partial: bool = False) -> None:
        with self.changed:
            self.vms[vm_id].output.append(OutputRecord(time.time_ns(), stream, data, partial))
            self.changed.notify_all()

    def stop_vm(self, vm_id: str, timeout: int, signal: str = "") -> None:
        assert timeout > 0, "the contract's stop() kills at once instead"
        self._end(vm_id, 143)

    def kill_vm(self, vm_id: str) -> None:
        self._end(vm_id, 137)

    def _end(self, vm_id: str, code: int) -> None:
        vm = self.vms.get(vm_id)
        if vm is not None and vm.state is VmState.RUNNING:
            self.exit(vm_id, code)

    def remove_vm(self, vm_id: str) -> None:
        self._end(vm_id, 137)  # a running workload is killed first, as Docker's does
        with self.changed:
            removed = self.vms.pop(vm_id, None)
            self.changed.notify_all()
        if removed is not None:
            self._report(vm_id, VmChange.REMOVED)

    def inspect_vm(self, vm_id: str) -> VmStatus:
        self.reads["inspect_vm"] += 1
        return self._status(vm_id)

    def _status(self, vm_id: str) -> VmStatus:
        vm = self.vms.get(vm_id)
        if vm is None:
            return VmStatus(vm_id=vm_id, state=VmState.MISSING)
        return VmStatus(
            vm_id=vm_id,
            state=vm.state,
            exit_code=vm.exit_code,
            started_at=vm.started_at,
            finished_at=vm.finished_at,
            ip=vm.ip,
            oom_killed=vm.oom_killed,
            labels=dict(vm.spec.labels),
        )

    def list_vms(self) -> dict[str, VmStatus]:
        self.reads["list_vms"] += 1
        return {vm_id: self._status(vm_id) for vm_id in list(self.vms)}

    def cgroup_driver(self) -> str:
        return "cgroupfs"

    def process_user(self, vm_id: str) -> ProcessUser | None:
        """Running VMs run as their spec's numeric ``uid[:gid]`` (root by default)."""
        vm = self.vms.get(vm_id)
        if vm is None or vm.state is not VmState.RUNNING:
            return None
        uid, _, gid = (vm.spec.security.user or "0").partition(":")
        groups = tuple(int(group) for group in vm.spec.security.group_add)
        return ProcessUser(uid=int(uid), gid=int(gid or 0), groups=groups)

    def exec_sync(self, vm_id: str, argv: list[str], timeout: float | None) -> ExecResult:
        if self._vm(vm_id).state is not VmState.RUNNING:
            raise FailedPrecondition(f"fake VM {vm_id[:12]} is not running")
        default = ExecResult(exit_code=len(argv), stdout=" ".join(argv).encode(), stderr=b"err")
        return self.exec_replies.get(tuple(argv), default)

    def update_resources(self, vm_id: str, resources: ResourceSpec) -> None:
        self.vms[vm_id].resources = resources

    def read_output(self, vm_id: str, stream: str, since: int) -> FakeOutput:
        return FakeOutput(self, vm_id, stream, since)

    def stats(self, vm_id: str) -> VmStats | None:
        if vm_id not in self.vms:
            return None
        return VmStats(
            timestamp=time.time_ns(),
            cpu_usage_ns=1000,
            memory_usage=2000,
            memory_working_set=1500,
            memory_rss=1000,
            memory_limit=10_000,
            page_faults=5,
            major_page_faults=1,
            pids=2,
            network_rx_bytes=10,
            network_tx_bytes=20,
            network_rx_errors=0,
            network_tx_errors=0,
            writable_layer_bytes=4096,
        )

    def watch_changes(self, changes: VmChanges, stop: threading.Event) -> None:
        """Every change is reported as it is made: the fake follows from the start."""
        self._watchers.append(changes)
        changes.following()
        stop.wait()
        self._watchers.remove(changes)

    def stream_breaks(self) -> None:
        """Changes may go unreported from now on (the stream of a real backend broke)."""
        for watcher in list(self._watchers):
            watcher.lost()

    def stream_is_back(self) -> None:
        for watcher in list(self._watchers):
            watcher.following()


class FakeBackend(FakeVmBackend):
    """A backend that can also give each pod a network of its own (like Docker)."""

    capabilities = frozenset(Capability)

    def __init__(self) -> None:
        super().__init__()
        self.pod_nets: dict[str, str] = {}

    def create_pod_network(self, pod_id: str) -> str:
        name = f"fake-pod-{pod_id[:12]}"
        self.pod_nets[name] = pod_id
        return name

    def remove_pod_network(self, name: str) -> None:
        in_use = [vm for vm in self.vms.values() if vm.spec.placement.network == name]
        assert not in_use, f"network {name} removed while VMs are on it"
        self.pod_nets.pop(name, None)

    def pod_networks(self) -> dict[str, str]:
        return dict(self.pod_nets)
