"""A shared pod VM (strategy ``shared-vm``): one VM per pod, its containers processes of it.

The pod VM boots at RunPodSandbox, the pause role: no root disk of its own, a virtio-scsi
controller, the pod's address, hostname and sysctls, and the pod's ``/etc/hosts`` and
``/dev/shm``, which its containers share (``PodLaunch``). ``-M microvm`` has no PCI and plugs no
virtio-mmio device after boot, so a container added later brings its parts on buses the VM had
at boot: its root disk an ``scsi-hd`` on the SCSI controller (QMP ``blockdev-add`` and
``device_add``) at LUN 0 of a target of its own, its host block devices (``devices``) more
``scsi-hd``s at LUNs 1 on of that target, named by their serial as a VM of its own has them
(``devices``: the same options), its ``ctl``, ``stdout``, ``stderr`` (and ``stdin``) ports
``virtserialport``s named with its key, as a streaming session's are (``monitor``). Then
``MEMBER KEY TARGET`` on the pod VM's ``ctl`` starts the container's agent there: the same
agent script, in a mount namespace of its own, speaking the same lines on the container's own
``ctl`` port (``guest/pod_vm.sh``), so a container is driven as a VM of its own is (``Member``, a
``Machine``) and the wire format needs no key in every line: the port is the key.

A container's agent leaves (``DONE``) once the host has kept its exit (``ACK``) or was told to
go (``POWEROFF``); its disk and ports are then unplugged. The pod VM powers off when the pod is
stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_shim.backends.base import ResourceSpec, VmSpec
from reference_shim.backends.microvm import devices as host_devices
from reference_shim.backends.microvm import pod_shares
from reference_shim.backends.microvm.attach import WorkloadStdio
from reference_shim.backends.microvm.devices import Disk
from reference_shim.backends.microvm.launch import MEMORY_MIB, Launch, b64
from reference_shim.backends.microvm.limits import sysctl_path, vm_cpus, vm_memory_mib
from reference_shim.backends.microvm.machine import BOOT_TIMEOUT_S, Machine
from reference_shim.backends.microvm.qemu import VmFiles
from reference_shim.backends.microvm.recovery import record_end
from reference_shim.backends.microvm.sessions import Sessions
from reference_shim.backends.microvm.shares import Share
from reference_shim.errors import (
    BackendError,
    FailedPrecondition,
    ResourceExhausted,
    ShimError,
)

log = logging.getLogger(__name__)
SCSI_CONTROLLER = "scsi"
SCSI_TARGETS = 256  # virtio-scsi's targets on its one channel: containers of one pod at once
# Ports on the pod VM's virtio-serial bus: four a container, and the sessions' (QEMU's default
# is 31, the VM's own four included).
SERIAL_PORTS = 255
POD_MEMORY_MIB = 2 * MEMORY_MIB  # several containers share it; a container's limits are cgroups'
LEAVE_GRACE_S = 10.0  # for a container's agent to kill its processes and let go of its disk
DRAIN_QUIET_S = 0.3  # output already sent is read before the ports go: this long with none new


def qemu_devices() -> list[str]:
    """What a shared pod VM has on top of every VM's: the SCSI controller, a larger port bus."""
    return [
        "-device", f"virtio-scsi-device,id={SCSI_CONTROLLER}",
        "-global", f"virtio-serial-device.max_ports={SERIAL_PORTS}",
    ]  # fmt: skip


@dataclass(frozen=True)
class PodLaunch(Launch):
    """What the pod VM's agent is told: the pod's settings, then ``POD`` (it answers STARTED)."""

    hosts: str = ""  # the pod's /etc/hosts

    def lines(self) -> list[str]:
        return [
            *([f"HOSTNAME {b64(self.hostname)}"] if self.hostname else []),
            *([f"NETWORK {self.address}"] if self.address else []),
            f"SYSCTL {' '.join(b64(f'{path}={value}') for path, value in self.sysctls)}",
            f"HOSTS {b64(self.hosts)}",
            "POD",
        ]

    @classmethod
    def of_pod(cls, document: dict[str, Any]) -> PodLaunch:
        """The pod VM's launch, from the pod's record (``backend``)."""
        address, hostname = document["address"], document["hostname"]
        sysctls = tuple(
            (sysctl_path(name), value) for name, value in sorted(document["sysctls"].items())
        )
        ip = address.partition("/")[0]
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" + (
            f"{ip}\t{hostname}\n" if hostname else ""
        )
        memory_mib, cpus = document["size"]  # ``size``, at CreateContainer of the pod
        return cls(
            argv=(), env=(), working_dir="/", uid=0, gid=0, hostname=hostname,
            readonly_rootfs=False, readonly_files=(), address=address, sysctls=sysctls,
            memory_mib=memory_mib, cpus=cpus, hosts=hosts,
        )  # fmt: skip


def size(pod_resources: ResourceSpec) -> tuple[int, int]:
    """The pod VM's RAM (MiB) and vCPUs: what the pod's resources need in a VM of their own
    (``limits``: a memory limit and the guest above it, the CPU quota in full, the cpuset), and
    never less than a pod VM without resources has: containers without limits share it."""
    memory_mib = max(POD_MEMORY_MIB, vm_memory_mib(pod_resources))
    return memory_mib, vm_cpus(pod_resources)


def in_pod_vm(spec: VmSpec) -> VmSpec:
    """A container's spec as ``translate`` takes it in the pod VM: a ``pid TARGET`` is honoured
    here (``Launch.pid_target``, set when it starts), which ``translate`` refuses for a VM of
    its own."""
    return dataclasses.replace(spec, placement=dataclasses.replace(spec.placement, pid_of=""))


class PodVm(Machine):
    """The pod VM's QEMU and agent, and which SCSI targets its containers' disks hold."""

    def __init__(self, files: VmFiles, *args: Any, **kwargs: Any) -> None:
        super().__init__(files, *args, **kwargs)
        self._targets: set[int] = set()
        self._targets_lock = threading.Lock()

    def take_target(self) -> int:
        with self._targets_lock:
            free = next((n for n in range(SCSI_TARGETS) if n not in self._targets), None)
            if free is None:
                raise ResourceExhausted(f"the pod VM holds {SCSI_TARGETS} containers already")
            self._targets.add(free)
            return free

    def hold_target(self, target: int) -> None:
        """A target a container took under an earlier shim process (``rejoin``)."""
        with self._targets_lock:
            self._targets.add(target)

    def give_back(self, target: int) -> None:
        with self._targets_lock:
            self._targets.discard(target)

    def add_member(self, key: str, target: int) -> None:
        self._send(f"MEMBER {key} {target}")

    def power_off(self, timeout: float) -> None:
        """Stop the pod VM: its agent powers off; QEMU is killed if it does not in time."""
        log.debug("pod VM %s: powering off", self.files.folder.name[:12])
        with contextlib.suppress(FailedPrecondition):
            self._send("POWEROFF")
        if not self.ended.wait(timeout):
            self.kill("the pod VM did not power off; its QEMU was killed")
            self.ended.wait(timeout)


class Member(Machine):
    """A container in a shared pod VM, driven as a VM of its own: its ports and disk are
    plugged into the pod VM's QEMU, and its agent is a process of the pod VM's agent."""

    def __init__(self, files: VmFiles, on_exit: Any, pod: PodVm) -> None:
        super().__init__(files, on_exit)
        self._pod = pod
        self.key = files.folder.name[:16]
        self.monitor = pod.monitor
        self.sessions = Sessions(files.sockets, pod.monitor, self._send)
        self._target = -1
        self._plugged: list[str] = []

    def _ports(self, launch: Launch) -> list[tuple[str, Any]]:
        files = self.files
        ports = [("ctl", files.ctl), ("stdout", files.out), ("stderr", files.err)]
        return ports + ([("stdin", files.stdin)] if launch.stdin else [])

    def join(self, launch: Launch, shared: tuple[Share, ...]) -> None:
        """Share the container's mounts, plug its disk and ports into the pod VM, start its
        agent there, hand it the workload; return once it runs (as ``Machine.boot``)."""
        files = self.files
        files.sockets.mkdir(mode=0o700, exist_ok=True)
        self._pid = self._pod.pid
        self._target = self._pod.take_target()
        try:
            pod_shares.add(self._pod.files, self.key, shared)
            self._plug_disk()
            self._plug_host_disks(launch.disks)
            for name, path in self._ports(launch):
                path.unlink(missing_ok=True)
                self.monitor.plug_port(f"{name}-{self.key}", path)
                self._plugged.append(f"{name}-{self.key}")
        except BackendError:
            self._unplug()
            raise
        plugs = {"target": self._target, "plugged": self._plugged}
        files.write_atomically(self._plugs_file, json.dumps(plugs))
        self._boot_agent(launch)

    def _boot_agent(self, launch: Launch) -> None:
        self.stdio = WorkloadStdio(self._send, launch.tty, launch.stdin_once)
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        self._attach(launch, deadline)
        try:
            self._pod.add_member(self.key, self._target)
        except FailedPrecondition:
            self.kill("the pod VM is not running")
            raise
        self._await_start(deadline)

    @property
    def _plugs_file(self) -> Path:
        """What this container holds of the pod VM, for a shim that takes it over (``rejoin``)."""
        return self.files.folder / "plugs.json"

    def take_over(self) -> bool:
        """Take over the container an earlier shim process joined to the pod VM: its ports and
        disk as recorded, its agent asked ``STATUS`` (``Machine.reattach``). False when it had
        left already (its exit reported, or never started): its parts are unplugged."""
        try:
            plugs = json.loads(self._plugs_file.read_text())
        except FileNotFoundError:
            return False
        self._target, self._plugged = int(plugs["target"]), list(plugs["plugged"])
        self._pod.hold_target(self._target)
        if self.files.reported.exists():  # its agent left once a shim kept the exit
            self._unplug()
            return False
        self.reattach(self._pod.pid)
        return True

    def _plug_disk(self) -> None:
        file = {"driver": "file", "filename": str(self.files.disk)}
        self._plug_block(f"disk-{self.key}", {"driver": "raw", "file": file}, lun=0)

    def _plug_host_disks(self, disks: tuple[Disk, ...]) -> None:
        """The container's host block devices, at LUNs 1 on of its target; the container's
        agent finds each by its target and serial (``guest/devices.sh``, ``disk_number``)."""
        host_devices.check_disks(disks)
        for lun, disk in enumerate(disks, start=1):
            self._plug_block(
                f"host-{self.key}-{lun}", host_devices.blockdev(disk), lun, disk.serial
            )

    def _plug_block(self, node: str, blockdev: dict[str, Any], lun: int, serial: str = "") -> None:
        self.monitor.execute("blockdev-add", {"node-name": node, **blockdev})
        try:
            self.monitor.execute("device_add", {
                "driver": "scsi-hd", "id": node, "drive": node, "bus": f"{SCSI_CONTROLLER}.0",
                "channel": 0, "scsi-id": self._target, "lun": lun,
                **({"serial": serial} if serial else {}),
            })  # fmt: skip
        except BackendError:
            with contextlib.suppress(BackendError):
                self.monitor.execute("blockdev-del", {"node-name": node})
            raise
        self._plugged.append(node)

    def _unplug(self) -> None:
        """Take the container's ports and disk from the pod VM (nothing, if it has ended)."""
        log.debug("container %s: unplugging %s", self.key, self._plugged)
        disks = [name for name in self._plugged if name.startswith(("disk-", "host-"))]
        for name in self._plugged:
            if name not in disks:
                self.monitor.unplug_port(name)
        for node in disks:
            with contextlib.suppress(BackendError):
                self.monitor.execute("device_del", {"id": node})
        for node in disks:
            self._delete_node(node)
        self._plugged.clear()
        self._plugs_file.unlink(missing_ok=True)
        pod_shares.remove(self._pod.files, self.key)
        if self._target >= 0:
            self._pod.give_back(self._target)
            self._target = -1
        log.debug("container %s: unplugged", self.key)

    def _delete_node(self, node: str) -> None:
        """The disk's block node goes once the guest has let the device go (device_del is
        asynchronous: the node is in use until then)."""
        for _ in range(100):
            try:
                self.monitor.execute("blockdev-del", {"node-name": node})
                return
            except BackendError as error:
                if "ended" in str(error) or "find node" in str(error):
                    return
                time.sleep(0.1)

    def _until_ended(self) -> int | None:
        """The container's agent has left (or the pod VM ended): once its output is drained,
        its ports and disk are unplugged, which ends the output pumps."""
        while not (self.left.wait(0.2) or self._pod.ended.is_set()):
            pass
        self._drain()
        for connection in self._outputs:  # the pumps end now, whenever QEMU lets go of its end
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        # the ports and disk go meanwhile: the exit is recorded without waiting for QEMU
        threading.Thread(target=self._unplug, daemon=True, name="unplug").start()
        return None

    def _drain(self) -> None:
        size, quiet_since = -1, time.monotonic()
        deadline = time.monotonic() + 5 * DRAIN_QUIET_S * 4
        while time.monotonic() < deadline:
            now_size = os.stat(self.files.output).st_size
            if now_size != size:
                size, quiet_since = now_size, time.monotonic()
            elif time.monotonic() - quiet_since >= DRAIN_QUIET_S:
                return
            time.sleep(0.05)

    def _let_go(self) -> None:
        """The monitor is the pod VM's: it stays."""

    def kill(self, reason: str = "") -> None:
        """The container's agent kills its processes and leaves; the pod VM runs on. An agent
        that does not leave in time is let go of all the same (its ports unplugged)."""
        self._error = reason
        if self.ended.is_set():
            return
        with contextlib.suppress(FailedPrecondition):
            self._send("SIGNAL KILL")
            self._send("POWEROFF")
        timer = threading.Timer(LEAVE_GRACE_S, self.left.set)
        timer.daemon = True
        timer.start()


def rejoin(files: VmFiles, on_exit: Callable[[], None], pod: Machine | None) -> Member | None:
    """A container of a shared pod VM, taken over by a restarted shim (``backend._recover``,
    after its pod VM); None when its pod VM or its agent is gone (its exit is recorded then)."""
    if isinstance(pod, PodVm):
        member = Member(files, on_exit, pod)
        try:
            if member.take_over():
                return member
        except ShimError as error:
            log.warning("container VM %s: cannot take it over: %s", files.folder.name[:12], error)
    record_end(files)
    return None
