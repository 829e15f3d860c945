"""What a VM's agent is told to run (``Launch``): the lines before ``START`` of the wire format
(README.md), kept in the VM's ``spec.json`` so a restarted shim, or a container that starts
later, sends the same.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from reference_shim.backends.microvm.devices import Disk

ALL_CAPABILITIES = (1 << 64) - 1  # a launch that names none keeps the bounding set whole
MEMORY_MIB = 256  # a VM without a memory limit (limits.vm_memory_mib)
EMPTY_WORD = "-"


def b64(text: str) -> str:
    """One word of a line to the agent: ``text`` in base64, and the empty text ``-`` (not in
    base64's alphabet), since an empty word would vanish between the spaces of its line (an
    argv may hold empty arguments)."""
    return base64.b64encode(text.encode()).decode() or EMPTY_WORD


@dataclass(frozen=True)
class Launch:
    """What the agent runs: argv, env, working dir, user, hostname, root mode."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    working_dir: str
    uid: int
    gid: int
    hostname: str
    readonly_rootfs: bool
    readonly_files: tuple[str, ...]
    address: str = ""  # the VM's address on the bridge, with its prefix ("" : no NIC)
    # mounts from the host: (entry of the VM's virtiofs share, container path, mode: ``rw``,
    # ``ro``, or ``rro``, read-only with the mounts under it)
    mounts: tuple[tuple[str, str, str], ...] = ()
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    # resources and kernel settings (limits.py): the VM's size, the workload cgroup's files,
    # the sysctls (paths under /proc/sys), the workload's OOM score
    memory_mib: int = MEMORY_MIB
    cpus: int = 1
    limits: tuple[tuple[str, str], ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    oom_score_adj: int = 0
    # seccomp (seccomp_filter.py): the BPF program the launcher installs, base64 ("" none), and
    # seccomp(2)'s flags for it
    seccomp_filter: str = ""
    seccomp_flags: int = 0
    # privileges (privileges.py): what the agent's launcher and mounts apply
    groups: tuple[int, ...] = ()
    capabilities: int = ALL_CAPABILITIES
    ambient_capabilities: int = 0  # a mask, as ``capabilities``
    no_new_privs: bool = False
    privileged: bool = False
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    # the workload as PID 1 of a PID namespace of its own (CRI CONTAINER), or in the VM's (POD)
    own_pid_namespace: bool = True
    # shared-vm, pid TARGET: the guest pid of the container whose PID namespace it joins (0: none)
    pid_target: int = 0
    # host devices (devices.py): the agent's DEVICE lines, QEMU's disks, the device filter
    devices: tuple[str, ...] = ()
    disks: tuple[Disk, ...] = ()
    device_rules: tuple[str, ...] = ()
    # a user namespace (user_namespace.py): "UIDS GIDS", the maps' extents; "" none
    user_namespace: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Launch:
        fields = {**document, "env": tuple(tuple(pair) for pair in document["env"])}
        fields["argv"] = tuple(document["argv"])
        fields["readonly_files"] = tuple(document["readonly_files"])
        fields["mounts"] = tuple(tuple(mount) for mount in document.get("mounts", ()))
        for name in ("limits", "sysctls"):
            fields[name] = tuple(tuple(pair) for pair in document.get(name, ()))
        for name in ("groups", "masked_paths", "readonly_paths", "devices", "device_rules"):
            fields[name] = tuple(document.get(name, ()))
        fields["disks"] = tuple(Disk(**disk) for disk in document.get("disks", ()))
        return cls(**fields)

    def _groups(self) -> str:
        return ",".join(map(str, self.groups)) or "-"

    def _capabilities(self) -> str:
        """The bounding set as a hex mask, ``:`` and the ambient set's when there is one."""
        ambient = f":{self.ambient_capabilities:x}" if self.ambient_capabilities else ""
        return f"{self.capabilities:x}{ambient}"

    def _flags(self) -> str:
        """``n`` no_new_privs, ``p`` privileged (a writable /sys and cgroup), ``-`` neither."""
        return ("n" if self.no_new_privs else "") + ("p" if self.privileged else "") or "-"

    def lines(self) -> list[str]:
        def words(values: Iterable[str]) -> str:
            return " ".join(b64(value) for value in values)

        return [
            f"ENV {words(f'{key}={value}' for key, value in self.env)}",
            f"ARGV {words(self.argv)}",
            f"CWD {b64(self.working_dir or '/')}",
            f"USER {self.uid} {self.gid}",
            *([f"HOSTNAME {b64(self.hostname)}"] if self.hostname else []),
            f"ROOTFS {'ro' if self.readonly_rootfs else 'rw'}",
            f"READONLY {words(self.readonly_files)}",
            *([f"NETWORK {self.address}"] if self.address else []),
            *(f"MOUNT {b64(name)} {b64(path)} {mode}" for name, path, mode in self.mounts),
            f"TTY {int(self.tty)}",
            f"STDIN {int(self.stdin)}",
            f"SYSCTL {words(f'{path}={value}' for path, value in self.sysctls)}",
            f"LIMITS {words(f'{name}={value}' for name, value in self.limits)}",
            f"OOMSCOREADJ {self.oom_score_adj}",
            *(
                [f"SECCOMP {self.seccomp_flags} {self.seccomp_filter}"]
                if self.seccomp_filter
                else []
            ),
            f"PRIVS {self._groups()} {self._capabilities()} {self._flags()}",
            f"MASKED {words(self.masked_paths)}",
            f"ROPATHS {words(self.readonly_paths)}",
            f"PIDNS target {self.pid_target}"
            if self.pid_target
            else f"PIDNS {'container' if self.own_pid_namespace else 'pod'}",
            *(f"DEVICE {device}" for device in self.devices),
            *([f"DEVRULES {' '.join(self.device_rules)}"] if self.device_rules else []),
            *([f"USERNS {self.user_namespace}"] if self.user_namespace else []),
            "START",
        ]
