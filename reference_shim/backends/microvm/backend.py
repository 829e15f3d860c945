"""VMs as QEMU microVMs: a real kernel per container, on Linux, under TCG where KVM fails.

Every VM has a folder in the backend's state (``spec.json``, its disk, sockets, console and
output logs, ``exit.json``). Pod sandboxes are modelled as the apple backend models them: a pod
"VM" is its folder, running from RunPodSandbox to StopPodSandbox, and the workload placed inside
it boots a VM of its own carrying the pod's hostname. So a pod of one container costs one VM,
not two. What the backend cannot honour yet answers UNIMPLEMENTED with the reason
(``translate``); README.md lists it.

Every VM is on the bridge of ``scripts/services microvm`` (``network``). A pod leases its
address when it is created, and the workload that runs in the pod VM boots with it: that is
the pod IP, known from RunPodSandbox on. A workload in a VM of its own leases one of its own.
The leases go when the VM (or pod) is removed. The pod's host ports are relayed to its address
from the pod's start to its stop (``ports``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import queue
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
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
from reference_shim.backends.microvm import devices as host_devices
from reference_shim.backends.microvm import (
    host_cgroup,
    pod_shares,
    pod_vm,
    recovery,
    shares,
    translate,
    workload,
)
from reference_shim.backends.microvm.disks import make_disk
from reference_shim.backends.microvm.guest import GuestKernel, initramfs
from reference_shim.backends.microvm.images import MicrovmImages
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.machine import Machine
from reference_shim.backends.microvm.network import (
    BRIDGE,
    Nic,
    address_pool,
    hosts_mount,
    release_address,
)
from reference_shim.backends.microvm.pod_networks import PodBridges
from reference_shim.backends.microvm.ports import PodPorts, ports_json
from reference_shim.backends.microvm.qemu import VmFiles
from reference_shim.backends.microvm.vm_folders import take_over, vm_status
from reference_shim.backends.recorded_output import RecordedOutput
from reference_shim.errors import FailedPrecondition, NotFound, ShimError
from reference_shim.timestamps import now_ns

log = logging.getLogger(__name__)
KILL_GRACE_S = 10.0  # after SIGKILL, how long the agent has to report before QEMU is killed
_HEX = frozenset("0123456789abcdef")
# What the host runs: QEMU boots, skopeo pulls, umoci unpacks, mkfs.ext4 writes the disk.
HOST_TOOLS = ("qemu-system-x86_64", "skopeo", "umoci", "mkfs.ext4")


class MicrovmBackend:
    name = "microvm"
    models_pods = True
    capabilities = frozenset(
        {
            Capability.WORKLOAD_IN_POD_VM,
            Capability.POD_NETWORKS,
            Capability.USER_NAMESPACES,
            Capability.STRICT_GROUPS,
            Capability.RECURSIVE_READ_ONLY_MOUNTS,
        }
    )

    def __init__(
        self,
        state_dir: Path,
        instance: str,
        kernel: GuestKernel | None = None,
        shared_pod_vms: bool = False,
    ) -> None:
        self.folder = state_dir
        # strategy shared-vm: a pod boots a VM of its own, and its containers join it (pod_vm)
        self.shared_pod_vms = shared_pod_vms
        if shared_pod_vms:
            self.capabilities = self.capabilities | {Capability.SHARED_POD_VM}
        self.instance = instance
        self.images = MicrovmImages(state_dir / "images")
        self._kernel = kernel
        self._labels = owner_labels(instance)
        self._machines: dict[str, Machine] = {}
        self._exits: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._ports = PodPorts()
        self._pod_bridges = PodBridges(state_dir / "networks")

    # -- services and network -----------------------------------------------------------

    def _boot_files(self) -> tuple[Path, Path]:
        kernel = self._kernel or GuestKernel.installed()
        return kernel.vmlinuz, initramfs(kernel, self.folder / "guest")

    def setup(self) -> None:
        """The VMs' folder and boot files, and the host ports of the pods still running (a
        restarted shim relays them again: the relays died with the shim that opened them)."""
        (self.folder / "vms").mkdir(parents=True, exist_ok=True)
        self._boot_files()
        address_pool()  # the bridge exists
        self._pod_bridges.remove_stale()
        self._recover()
        for vm_id in self.list_vms():
            files = self._files(vm_id)
            document = self._spec(files) if files else {}
            if document.get("launch", True) is None and document["running"]:
                self._ports.open(vm_id, document)

    def _recover(self) -> None:
        """Take over the VMs this instance's earlier shim processes started (``vm_folders``)."""
        for vm_id, machine in take_over(self.folder / "vms", self.instance, self._on_exit):
            with self._lock:
                self._machines[vm_id] = machine

    def _on_exit(self, vm_id: str) -> Callable[[], None]:
        """What a VM's ``Machine`` calls when the VM exits: ``watch_changes`` reports it."""
        return functools.partial(self._exits.put, vm_id)

    def teardown(self) -> None:
        """Close the host ports this shim relays; the bridge is the services script's."""
        self._ports.close_all()

    def network(self) -> str:
        return BRIDGE

    def create_pod_network(self, pod_id: str) -> str:
        return self._pod_bridges.create(pod_id)

    def remove_pod_network(self, name: str) -> None:
        self._pod_bridges.remove(name)

    def pod_networks(self) -> dict[str, str]:
        return self._pod_bridges.listed()

    def ready(self) -> tuple[bool, str]:
        missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
        if missing:
            return False, f"{', '.join(missing)} not installed; run `scripts/services microvm`"
        try:
            self._boot_files()
            address_pool()
        except ShimError as error:
            return False, str(error)
        return True, ""

    def network_status(self) -> tuple[bool, str]:
        try:
            address_pool()
        except ShimError as error:
            return False, str(error)
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
        pod: VmFiles | None = None
        member = False  # shared-vm: a container joining its pod's running VM (pod_vm)
        if spec.role is VmRole.POD:
            translate.refuse_pod_features(spec)
            image, hostname = None, ""
        else:
            image = self.images.stored(spec.image)
            if image is None:
                raise NotFound(f"image {spec.image} not found")
            pod = self._files(spec.placement.inside) if spec.placement.inside else None
            hostname = self._spec(pod)["hostname"] if pod else spec.hostname
            member = bool(pod and self._spec(pod).get("boots"))
            if member:  # the pod's VM has the pod's hostname, sysctls and /etc/hosts
                hostname = ""
            elif pod:  # the modelled pod's sysctls apply in its workload's VM
                pod_sysctls = self._spec(pod).get("sysctls", {})
                spec = dataclasses.replace(spec, sysctls={**pod_sysctls, **spec.sysctls})
        boots = self.shared_pod_vms and spec.role is VmRole.POD  # shared-vm: the pod's own VM
        vm_id = secrets.token_hex(32)
        files = VmFiles(self.folder / "vms" / vm_id)
        files.folder.mkdir(parents=True)
        # In the pod VM, the pod's address; else one of its own, leased to this VM's folder.
        address = self._spec(pod)["address"] if pod else ""
        bridge = self._spec(pod)["bridge"] if pod else spec.placement.network or BRIDGE
        try:
            if not address:
                address = str(address_pool(bridge).lease(files.folder))
            launch: Launch | None = None
            shared: tuple[shares.Share, ...] = ()
            if image is not None:
                rootfs = self.images.rootfs(spec.image)
                hosts = hosts_mount(spec.mounts, files.folder, address, hostname)
                volumes = shares.image_volumes(spec.image_mounts, self.images.rootfs)
                shared = shares.plan([*spec.mounts, *hosts, *volumes])
                if member:  # entries of the pod VM's share (pod_shares)
                    shared = pod_shares.entries(vm_id[:16], shared)
                launch = translate.launch(
                    pod_vm.in_pod_vm(spec) if member else spec, image, rootfs, hostname, shared
                )
            document = {
                "name": spec.name, "role": spec.role.value, "pod_id": spec.pod_id,
                "hostname": spec.hostname, "labels": {**spec.labels, **self._labels},
                "stop_signal": spec.stop_signal, "running": False,
                "launch": replace(launch, address="" if member else address).to_json()
                if launch else None,
                "address": address, "leased": pod is None, "ports": ports_json(spec.ports),
                "bridge": bridge, "shares": [share.to_json() for share in shared],
                "sysctls": spec.sysctls, "cgroup_parent": spec.cgroup_parent,
                "boots": boots, "size": pod_vm.size(spec.pod_resources) if boots else None,
                "member_of": spec.placement.inside if member else "",
                "pid_of": spec.placement.pid_of if member else "",
            }  # fmt: skip
            if launch is not None:
                make_disk(self.images.rootfs(spec.image), shared, files.disk)
            files.write_atomically(files.spec, json.dumps(document))
        except BaseException:
            if pod is None and address:
                release_address(bridge, address, files.folder)
            shutil.rmtree(files.folder, ignore_errors=True)
            raise
        return vm_id

    def start_vm(self, vm_id: str) -> VmStatus:
        files = self._files(vm_id)
        if files is None:
            raise NotFound(f"VM {vm_id} not found")
        document = self._spec(files)
        if document["launch"] is None:  # a modelled pod: it runs from here until it is stopped
            self._ports.open(vm_id, document)  # first: a port in use fails the start
            if document.get("boots"):
                self._boot_pod_vm(vm_id, files, document)
            files.write_atomically(files.started, str(now_ns()))
            files.write_atomically(files.spec, json.dumps({**document, "running": True}))
            return self.inspect_vm(vm_id)
        if files.started.exists():
            raise FailedPrecondition(f"VM {vm_id} has already been started")
        if document.get("member_of"):
            return self._join_pod_vm(vm_id, files, document)
        nic = Nic.of(vm_id, document["address"], document["bridge"])
        machine = Machine(files, self._on_exit(vm_id), nic)
        with self._lock:
            self._machines[vm_id] = machine
        kernel, ramdisk = self._boot_files()
        files.write_atomically(files.started, str(now_ns()))
        shared = tuple(shares.Share.from_json(share) for share in document.get("shares", ()))
        launch = Launch.from_json(document["launch"])
        try:
            host_devices.check_disks(launch.disks)
            devices = shares.start_daemon(files, shared, launch.memory_mib) if shared else []
            devices += host_devices.qemu_arguments(launch.disks)
            machine.boot(kernel, ramdisk, launch, devices)
        except ShimError:
            shares.stop_daemon(files)
            raise
        if document.get("cgroup_parent"):
            try:
                host_cgroup.place(machine.pid, document["cgroup_parent"], vm_id)
            except ShimError:
                machine.kill("its QEMU could not be placed under the pod's cgroup parent")
                raise
        return self.inspect_vm(vm_id)

    def _boot_pod_vm(self, vm_id: str, files: VmFiles, document: dict[str, Any]) -> None:
        """Strategy shared-vm: the pod's own VM, which its containers join (``pod_vm``)."""
        nic = Nic.of(vm_id, document["address"], document["bridge"])
        machine = pod_vm.PodVm(files, self._on_exit(vm_id), nic)
        with self._lock:
            self._machines[vm_id] = machine
        kernel, ramdisk = self._boot_files()
        launch = pod_vm.PodLaunch.of_pod(document)
        try:
            devices = pod_shares.start(files, launch.memory_mib) + pod_vm.qemu_devices()
            machine.boot(kernel, ramdisk, launch, devices)
            if document.get("cgroup_parent"):  # the pod's containers run in this QEMU
                host_cgroup.place(machine.pid, document["cgroup_parent"], vm_id)
        except ShimError:
            machine.kill("the pod VM could not be started")
            shares.stop_daemon(files)
            self._ports.close(vm_id)
            raise

    def _join_pod_vm(self, vm_id: str, files: VmFiles, document: dict[str, Any]) -> VmStatus:
        """Strategy shared-vm: the container joins its pod's running VM."""
        pod = self._machine(document["member_of"])
        if not isinstance(pod, pod_vm.PodVm):
            raise FailedPrecondition(f"the pod VM of container VM {vm_id} is not running")
        launch = Launch.from_json(document["launch"])
        if document.get("pid_of"):  # pid TARGET: that container's PID namespace
            target = self._machine(document["pid_of"])
            if target is None or not target.workload_pid:
                raise FailedPrecondition(
                    "the container whose PID namespace this one joins (pid TARGET) is not running"
                )
            launch = replace(launch, pid_target=target.workload_pid)
        member = pod_vm.Member(files, self._on_exit(vm_id), pod)
        with self._lock:
            self._machines[vm_id] = member
        files.write_atomically(files.started, str(now_ns()))
        shared = tuple(shares.Share.from_json(share) for share in document.get("shares", ()))
        member.join(launch, shared)
        return self.inspect_vm(vm_id)

    def _machine(self, vm_id: str) -> Machine | None:
        machine = self._machines.get(vm_id)
        return machine if machine is not None and not machine.ended.is_set() else None

    def running_machine(self, vm_id: str) -> Machine:
        """The booted VM ``vm_id``, for streaming; a pod's or one not running has none."""
        files = self._files(vm_id)
        if files is None:
            raise NotFound(f"VM {vm_id} not found")
        machine = self._machine(vm_id)
        if machine is None:
            raise FailedPrecondition(f"container VM {vm_id} is not running")
        return machine

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
        self._ports.close(files.folder.name)
        machine = self._machine(files.folder.name)
        if isinstance(machine, pod_vm.PodVm):  # shared-vm: the pod's own VM powers off
            machine.power_off(KILL_GRACE_S)
            log.debug("pod VM %s: powered off", files.folder.name[:12])
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
            recovery.kill_orphan(files)
        shares.stop_daemon(files)
        with self._lock:
            self._machines.pop(vm_id, None)
        self._ports.close(vm_id)
        shutil.rmtree(files.sockets, ignore_errors=True)  # in the temp folder, not the state's
        try:
            document = self._spec(files)
        except FileNotFoundError:  # removed meanwhile, lease and all
            return
        if document.get("cgroup_parent"):
            host_cgroup.release(document["cgroup_parent"], vm_id)
        shutil.rmtree(files.folder, ignore_errors=True)
        if document.get("leased"):  # the folder is gone first: a stale lease is free anyway
            release_address(document["bridge"], document["address"], files.folder)

    def inspect_vm(self, vm_id: str) -> VmStatus:
        files = self._files(vm_id)
        if files is None:
            return VmStatus(vm_id, VmState.MISSING)
        try:
            return vm_status(vm_id, files, self._spec(files), self._machine(vm_id) is not None)
        except FileNotFoundError:  # removed meanwhile
            return VmStatus(vm_id, VmState.MISSING)

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
