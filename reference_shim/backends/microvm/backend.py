"""VMs as QEMU microVMs: a real kernel per container, on Linux, under TCG where KVM fails.

Every VM has a folder in the backend's state (``spec.json``, its disk, sockets, console and
output logs, ``exit.json``). Pod sandboxes are modelled as the apple backend models them: a pod
"VM" is its folder, running from RunPodSandbox to StopPodSandbox, and the workload placed inside
it boots a VM of its own carrying the pod's hostname. So a pod of one container costs one VM,
not two. What this first slice cannot honour answers UNIMPLEMENTED with the reason
(``translate``); README.md lists it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import secrets
import shutil
import threading
from pathlib import Path
from signal import SIGKILL
from typing import Any

from reference_shim.backends.base import (
    Capability,
    ExecResult,
    ProcessUser,
    ResourceSpec,
    VmChange,
    VmChanges,
    VmRole,
    VmSpec,
    VmState,
    VmStats,
    VmStatus,
)
from reference_shim.backends.labels import INSTANCE_LABEL, owner_labels
from reference_shim.backends.microvm import host_cgroup, translate, workload
from reference_shim.backends.microvm.disks import make_disk
from reference_shim.backends.microvm.guest import GuestKernel, initramfs
from reference_shim.backends.microvm.images import MicrovmImages
from reference_shim.backends.microvm.machine import Launch, Machine, VmFiles
from reference_shim.backends.recorded_output import RecordedOutput
from reference_shim.errors import FailedPrecondition, NotFound, ShimError
from reference_shim.timestamps import now_ns

NETWORK = "microvm-none"  # no network yet: VMs have no NIC (README, "next")
KILL_GRACE_S = 10.0  # after SIGKILL, how long the agent has to report before QEMU is killed
_HEX = frozenset("0123456789abcdef")
# What the host runs: QEMU boots, skopeo pulls, umoci unpacks, mkfs.ext4 writes the disk.
HOST_TOOLS = ("qemu-system-x86_64", "skopeo", "umoci", "mkfs.ext4")


def _kill_orphan(files: VmFiles) -> None:
    """Kill the QEMU an earlier shim process started for this VM, if it still runs: by its pid
    file, and only while that pid's command line names this VM's disk (pids are reused)."""
    try:
        pid = int(files.pid.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return
    if str(files.disk).encode() in command:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, SIGKILL)


class MicrovmBackend:
    name = "microvm"
    models_pods = True
    capabilities = frozenset({Capability.WORKLOAD_IN_POD_VM})

    def __init__(self, state_dir: Path, instance: str, kernel: GuestKernel | None = None) -> None:
        self.folder = state_dir
        self.instance = instance
        self.images = MicrovmImages(state_dir / "images")
        self._kernel = kernel
        self._labels = owner_labels(instance)
        self._machines: dict[str, Machine] = {}
        self._exits: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()

    # -- services and network -----------------------------------------------------------

    def _boot_files(self) -> tuple[Path, Path]:
        kernel = self._kernel or GuestKernel.installed()
        return kernel.vmlinuz, initramfs(kernel, self.folder / "guest")

    def setup(self) -> None:
        (self.folder / "vms").mkdir(parents=True, exist_ok=True)
        self._boot_files()

    def teardown(self) -> None:
        """Nothing to release: no network or service is made for VMs yet."""

    def network(self) -> str:
        return NETWORK

    def ready(self) -> tuple[bool, str]:
        missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
        if missing:
            return False, f"{', '.join(missing)} not installed; run `scripts/services microvm`"
        try:
            self._boot_files()
        except ShimError as error:
            return False, str(error)
        return True, ""

    def network_status(self) -> tuple[bool, str]:
        return True, ""

    def cgroup_driver(self) -> str:
        return "cgroupfs"

    # -- VM folders ---------------------------------------------------------------------

    def _files(self, vm_id: str) -> VmFiles | None:
        if len(vm_id) != 64 or not set(vm_id) <= _HEX:
            return None
        files = VmFiles(self.folder / "vms" / vm_id)
        return files if files.spec.exists() else None

    def _spec(self, files: VmFiles) -> dict[str, Any]:
        return dict(json.loads(files.spec.read_text()))

    def create_vm(self, spec: VmSpec) -> str:
        if spec.role is VmRole.POD:
            translate.refuse_pod_features(spec)
            launch = None
        else:
            image = self.images.stored(spec.image)
            if image is None:
                raise NotFound(f"image {spec.image} not found")
            pod = self._files(spec.placement.inside) if spec.placement.inside else None
            hostname = self._spec(pod)["hostname"] if pod else spec.hostname
            if pod:  # the modelled pod's sysctls apply in its workload's VM
                pod_sysctls = self._spec(pod).get("sysctls", {})
                spec = dataclasses.replace(spec, sysctls={**pod_sysctls, **spec.sysctls})
            launch = translate.launch(spec, image, self.images.rootfs(spec.image), hostname)
        vm_id = secrets.token_hex(32)
        files = VmFiles(self.folder / "vms" / vm_id)
        files.folder.mkdir(parents=True)
        document = {
            "name": spec.name, "role": spec.role.value, "pod_id": spec.pod_id,
            "hostname": spec.hostname, "labels": {**spec.labels, **self._labels},
            "stop_signal": spec.stop_signal, "launch": launch.to_json() if launch else None,
            "sysctls": spec.sysctls, "cgroup_parent": spec.cgroup_parent,
            "running": False,
        }  # fmt: skip
        if launch is not None:
            try:
                make_disk(self.images.rootfs(spec.image), spec.mounts, files.disk)
            except ShimError:
                shutil.rmtree(files.folder, ignore_errors=True)
                raise
        files.write_atomically(files.spec, json.dumps(document))
        return vm_id

    def start_vm(self, vm_id: str) -> VmStatus:
        files = self._files(vm_id)
        if files is None:
            raise NotFound(f"VM {vm_id} not found")
        document = self._spec(files)
        if document["launch"] is None:  # a modelled pod: it runs from here until it is stopped
            files.write_atomically(files.started, str(now_ns()))
            files.write_atomically(files.spec, json.dumps({**document, "running": True}))
            return self.inspect_vm(vm_id)
        if files.started.exists():
            raise FailedPrecondition(f"VM {vm_id} has already been started")
        machine = Machine(files, lambda: self._exits.put(vm_id))
        with self._lock:
            self._machines[vm_id] = machine
        kernel, ramdisk = self._boot_files()
        files.write_atomically(files.started, str(now_ns()))
        machine.boot(kernel, ramdisk, Launch.from_json(document["launch"]))
        if document.get("cgroup_parent"):
            try:
                host_cgroup.place(machine.pid, document["cgroup_parent"], vm_id)
            except ShimError:
                machine.kill("its QEMU could not be placed under the pod's cgroup parent")
                raise
        return self.inspect_vm(vm_id)

    def _machine(self, vm_id: str) -> Machine | None:
        machine = self._machines.get(vm_id)
        return machine if machine is not None and not machine.ended.is_set() else None

    def stop_vm(self, vm_id: str, timeout: int, signal: str = "") -> None:
        files = self._files(vm_id)
        if files is None:
            return
        document = self._spec(files)
        if document["launch"] is None:
            self._stop_pod(files, document)
            return
        machine = self._machine(vm_id)
        if machine is None:
            return
        with contextlib.suppress(FailedPrecondition):  # the agent is gone: killed below
            machine.signal(signal or document["stop_signal"] or "TERM")
        if not machine.ended.wait(timeout):
            self.kill_vm(vm_id)

    def _stop_pod(self, files: VmFiles, document: dict[str, Any]) -> None:
        if document["running"]:
            files.write_atomically(files.spec, json.dumps({**document, "running": False}))
            files.write_atomically(
                files.exit, json.dumps({"exit_code": 0, "finished_at": now_ns()})
            )
            self._exits.put(files.folder.name)

    def kill_vm(self, vm_id: str) -> None:
        files = self._files(vm_id)
        if files is None:
            return
        if self._spec(files)["launch"] is None:
            self._stop_pod(files, self._spec(files))
            return
        machine = self._machine(vm_id)
        if machine is None:
            return
        with contextlib.suppress(FailedPrecondition):
            machine.signal("KILL")
        if not machine.ended.wait(KILL_GRACE_S):
            machine.kill("the VM did not end after SIGKILL; its QEMU was killed")
            machine.ended.wait(KILL_GRACE_S)

    def remove_vm(self, vm_id: str) -> None:
        files = self._files(vm_id)
        if files is None:
            return
        machine = self._machine(vm_id)
        if machine is not None:
            machine.kill("removed while running")
            machine.ended.wait(KILL_GRACE_S)
        else:
            _kill_orphan(files)
        with self._lock:
            self._machines.pop(vm_id, None)
        if self._spec(files).get("cgroup_parent"):
            host_cgroup.release(self._spec(files)["cgroup_parent"], vm_id)
        shutil.rmtree(files.sockets, ignore_errors=True)
        shutil.rmtree(files.folder, ignore_errors=True)

    def inspect_vm(self, vm_id: str) -> VmStatus:
        files = self._files(vm_id)
        if files is None:
            return VmStatus(vm_id, VmState.MISSING)
        try:
            return self._status(vm_id, files)
        except FileNotFoundError:  # removed meanwhile
            return VmStatus(vm_id, VmState.MISSING)

    def _status(self, vm_id: str, files: VmFiles) -> VmStatus:
        document = self._spec(files)
        labels = dict(document["labels"])
        started = files.started_at()
        finished = files.exit_status()
        if finished is not None:
            return VmStatus(
                vm_id, VmState.EXITED, exit_code=finished["exit_code"], started_at=started,
                finished_at=max(int(finished["finished_at"]), started),
                error=str(finished.get("error") or ""), labels=labels,
                oom_killed=bool(finished.get("oom_killed")),
            )  # fmt: skip
        if not started:
            return VmStatus(vm_id, VmState.CREATED, labels=labels)
        if document["launch"] is not None and self._machine(vm_id) is None:
            # started by an earlier shim process: this slice does not recover VMs yet (README)
            return VmStatus(
                vm_id, VmState.EXITED, exit_code=255, started_at=started, finished_at=started,
                error="the VM belonged to an earlier shim process (no recovery yet)", labels=labels,
            )  # fmt: skip
        return VmStatus(vm_id, VmState.RUNNING, started_at=started, labels=labels)

    def list_vms(self) -> dict[str, VmStatus]:
        found = {}
        for folder in (self.folder / "vms").glob("*"):
            status = self.inspect_vm(folder.name)
            if status.labels.get(INSTANCE_LABEL) == self.instance:
                found[folder.name] = status
        return found

    def process_user(self, vm_id: str) -> ProcessUser | None:
        """The workload's credentials as the guest's kernel holds them (the agent's ``CREDS``)."""
        machine = self._machine(vm_id)
        if machine is None:
            return None
        return workload.credentials(machine)

    def exec_sync(self, vm_id: str, argv: list[str], timeout: float | None) -> ExecResult:
        files = self._files(vm_id)
        if files is None:
            raise NotFound(f"VM {vm_id} not found")
        if self._spec(files)["launch"] is None:
            raise FailedPrecondition("a modelled pod sandbox runs no process to exec in")
        machine = self._machine(vm_id)
        if machine is None:
            raise FailedPrecondition(f"VM {vm_id} is not running")
        return machine.exec(argv, timeout)

    def update_resources(self, vm_id: str, resources: ResourceSpec) -> None:
        """A running VM's workload cgroup is rewritten by its agent (``UPDATE``); a VM not
        started yet boots with the new limits."""
        files = self._files(vm_id)
        if files is None:
            raise NotFound(f"VM {vm_id} not found")
        document = self._spec(files)
        if document["launch"] is None:
            raise FailedPrecondition("a modelled pod sandbox runs no workload to limit")
        launch = Launch.from_json(document["launch"])
        if not files.started.exists():
            updated = workload.relaunch(launch, resources).to_json()
            files.write_atomically(files.spec, json.dumps({**document, "launch": updated}))
            return
        machine = self._machine(vm_id)
        if machine is None:
            raise FailedPrecondition(f"VM {vm_id} is not running")
        workload.update(machine, launch, resources)

    def read_output(self, vm_id: str, stream: str, since: int) -> RecordedOutput:
        files = VmFiles(self.folder / "vms" / vm_id)
        finished = lambda: self._machine(vm_id) is None  # noqa: E731
        return RecordedOutput(files.output, finished, frozenset({stream}), since)

    def stats(self, vm_id: str) -> VmStats | None:
        """The workload's cgroup in the guest (the agent's ``STATS``); a running modelled pod
        runs nothing of its own, so its figures are zero and a pod's are its workloads'."""
        files = self._files(vm_id)
        if files is None:
            return None
        document = self._spec(files)
        if document["launch"] is None:
            return workload.idle_stats() if document["running"] else None
        machine = self._machine(vm_id)
        if machine is None:
            return None
        return workload.stats(machine, files.disk)

    def watch_changes(self, changes: VmChanges, stop: threading.Event) -> None:
        """Report each exit the VMs' agents (or their QEMU's end) told of. Exits only, and after
        ``inspect_vm`` shows them, so the backend never says it follows (``VmChanges``)."""
        while not stop.is_set():
            try:
                changes.changed(self._exits.get(timeout=0.2), VmChange.EXITED)
            except queue.Empty:
                continue
