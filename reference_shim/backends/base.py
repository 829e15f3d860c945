"""The contract between the CRI layer and a VM backend.

The model is Apple Container's: a *VM* is one isolated machine with its own kernel (on Docker,
one Docker container) running one workload, with its own IP on a backend network. The CRI layer
turns pods and containers into ``VmSpec`` values and never sees backend objects.

``Placement`` is what lets multi-container strategies fit: a workload either gets its own VM on
a network (``reject``'s pod VM, ``separate-vms``' containers), or runs inside an existing VM,
sharing the namespaces listed (``reject``'s single container, ``shared-vm``'s containers).
A backend that cannot run a workload inside another VM (Apple's CLI, which has no pods) may
realise ``inside`` with ``container exec``, refuse it with ``Unimplemented``, or (``models_pods``)
give the workload a VM of its own that carries the modelled pod's network identity.

``PodNetworks`` is optional: a backend that can give one pod a network of its own (Docker; Apple's
CLI on macOS 26) lets ``separate-vms`` keep each pod's VMs apart from every other pod's. Without it
``separate-vms`` puts a pod's VMs on the backend's shared network.

What every backend promises, whatever it runs on (``tests/contract`` checks each one):
- an id it does not know (never made, or removed) is *missing*: ``inspect_vm`` answers
  ``VmState.MISSING``, ``list_vms`` leaves it out, ``stats`` and ``process_user`` answer None,
  ``stop_vm``, ``kill_vm`` and ``remove_vm`` do nothing, and ``start_vm`` and ``exec_sync``
  raise ``NotFound``;
- stop, kill and remove are idempotent: a VM already stopped (or gone) is left as it is;
- a workload's exit code is its own, and 137 (128 + SIGKILL) once it was killed;
- ``exec_sync`` answers the command's exit code and output, and ``FailedPrecondition`` in a VM
  that does not run;
- what a workload writes comes back from ``read_output`` as ``OutputRecord`` values, one per
  line, in order;
- the stop-timeout rule is ``stop``'s, here, not each backend's;
- ``watch_changes`` reports each exit of a VM once the backend's own state shows it; a backend
  that calls ``VmChanges.following`` also reports every start, OOM kill and removal, so that
  the shim may answer status and list calls from its records (see ``VmChanges``);
- ``watch_images`` is the same for the image store: a backend that calls
  ``ImageChanges.following`` reports every image pulled, tagged, untagged or removed, by
  anyone, once ``get`` shows it, so that the shim may answer ImageStatus and ListImages from
  its image records; one that does not never calls it, and the shim asks ``get`` and
  ``list_images`` on every call.

Backends know nothing of CRI objects or strategies: a ``VmSpec`` says what a VM is for in typed
fields (``role``, ``pod_id``, ``object_id``), and a backend declares its ``capabilities`` so that
the shim can refuse, at start, a strategy that needs one it lacks.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class VmState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    MISSING = "missing"  # the backend has no such VM any more


class VmRole(enum.Enum):
    """What a VM is for: a pod sandbox's VM, or a workload (a container) of a pod."""

    POD = "pod"
    WORKLOAD = "workload"


class Capability(enum.Enum):
    """What a backend can do beyond running a workload in a VM of its own; the value says it.

    Strategies name the ones they need (``reference_shim.strategies``); a backend lists the
    ones it has in ``VmBackend.capabilities``.
    """

    WORKLOAD_IN_POD_VM = "runs a workload in its pod's VM, with the pod's IP, hostname and ports"
    SHARED_POD_VM = (
        "runs several workloads inside one pod VM at once, sharing its network, IPC and UTS "
        "namespaces (and its PID namespace when asked)"
    )
    POD_NETWORKS = "makes a network of one pod's own (PodNetworks)"
    USER_NAMESPACES = (
        "runs a workload in a user namespace with the uid and gid mappings of its spec "
        "(SecuritySpec.uid_mappings), its root filesystem mapped into it"
    )
    RECURSIVE_READ_ONLY_MOUNTS = (
        "makes a read-only mount's submounts read-only too when asked "
        "(MountSpec.recursive_readonly); the others refuse it (refusals.Asked)"
    )
    STRICT_GROUPS = (
        "gives a workload exactly the groups of its spec when asked (SecuritySpec.strict_groups: "
        "CRI SupplementalGroupsPolicy Strict), none of the image's /etc/group"
    )


class Namespace(enum.Enum):
    NETWORK = "network"
    IPC = "ipc"
    UTS = "uts"
    PID = "pid"


class VmChange(enum.Enum):
    """What happened to a VM, as ``watch_changes`` reports it."""

    STARTED = "started"
    EXITED = "exited"
    OOM_KILLED = "oom-killed"  # the kernel killed a process of the VM for want of memory
    REMOVED = "removed"


class VmChanges(Protocol):
    """Where a backend reports what happens to its VMs (``VmBackend.watch_changes``).

    A backend whose own state changes reach it as events (Docker's event stream) calls
    ``following`` once it receives them, and from then on reports every change of every VM
    of the shim instance, each after ``inspect_vm`` shows it, until it calls ``lost``. While
    a backend follows, the shim answers status and list calls from its records, reading again
    only the VMs a change was reported for. A backend that cannot promise that (one that finds
    exits by polling, later than ``inspect_vm`` shows them) never calls ``following``: the
    shim then asks ``inspect_vm`` on every status call, and ``list_vms`` on every list call.
    """

    def following(self) -> None:
        """Every change from now on is reported; earlier ones may have been missed."""

    def changed(self, vm_id: str, change: VmChange) -> None:
        """``vm_id`` started, exited, was OOM-killed or was removed; returns at once."""

    def lost(self) -> None:
        """Changes may go unreported from now on, until ``following`` is called again."""


class ImageChange(enum.Enum):
    """What happened to an image, as ``watch_images`` reports it."""

    ADDED = "added"  # pulled, imported or loaded: its name now names it
    TAGGED = "tagged"
    UNTAGGED = "untagged"
    REMOVED = "removed"


class ImageChanges(Protocol):
    """Where a backend reports what happens to its image store (``ImageBackend.watch_images``).

    As ``VmChanges`` for VMs: a backend whose image store's changes reach it as events
    (Docker's event stream) calls ``following`` once it receives them, and from then on
    reports every change, whoever made it, each after ``get`` shows it, until it calls
    ``lost``. ``reference`` is what the backend's event names: an image id, or for an image
    added, the name it was added under. A backend that cannot promise that never calls
    ``following``.
    """

    def following(self) -> None:
        """Every change from now on is reported; earlier ones may have been missed."""

    def changed(self, reference: str, change: ImageChange) -> None:
        """The image ``reference`` names changed; returns at once."""

    def lost(self) -> None:
        """Changes may go unreported from now on, until ``following`` is called again."""


@dataclass(frozen=True)
class Placement:
    """Where a workload runs: its own VM on ``network``, or ``inside`` another VM."""

    network: str = ""
    inside: str = ""
    shared: frozenset[Namespace] = frozenset()
    pid_of: str = ""  # share only the PID namespace of this VM (CRI NamespaceMode TARGET/POD)

    @classmethod
    def own_vm(cls, network: str) -> Placement:
        return cls(network=network)


@dataclass(frozen=True)
class PortSpec:
    protocol: str  # tcp | udp | sctp
    container_port: int
    host_port: int
    host_ip: str = ""


@dataclass(frozen=True)
class MountSpec:
    host_path: str
    container_path: str
    readonly: bool = False
    propagation: str = "rprivate"  # rprivate | rslave | rshared
    recursive_readonly: bool = False  # its submounts read-only too (``readonly`` is set)
    selinux_relabel: bool = False  # relabel the host path for the container's SELinux label


@dataclass(frozen=True)
class ImageMountSpec:
    """An image volume: the files of ``image`` (an image id the backend holds), or of its
    folder ``sub_path``, read-only at ``container_path``."""

    image: str
    container_path: str
    sub_path: str = ""


@dataclass(frozen=True)
class DeviceSpec:
    host_path: str
    container_path: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class ResourceSpec:
    """Linux resources; 0 or "" means unset (the backend default)."""

    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    memory_limit: int = 0
    memory_swap_limit: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    oom_score_adj: int = 0
    hugepage_limits: tuple[tuple[str, int], ...] = ()  # (page size as "2MB", bytes), in order
    unified: tuple[tuple[str, str], ...] = ()  # cgroup v2 file name -> value, as CRI gives them


@dataclass(frozen=True)
class IdMapping:
    """One extent of a user namespace's uid or gid map: ``length`` ids from ``container_id``
    inside are ``host_id`` onwards outside (a line of /proc/PID/uid_map)."""

    container_id: int
    host_id: int
    length: int


@dataclass(frozen=True)
class SecuritySpec:
    user: str = ""  # "uid", "uid:gid" or "name"; "" keeps the image's user
    group_add: tuple[str, ...] = ()
    # the groups are exactly the primary group and group_add, none from the image's /etc/group
    # (CRI SupplementalGroupsPolicy Strict; only for a backend with Capability.STRICT_GROUPS)
    strict_groups: bool = False
    privileged: bool = False
    readonly_rootfs: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    ambient_capabilities: tuple[str, ...] = ()  # names without CAP_, as cap_add
    no_new_privs: bool = False
    seccomp: str = ""  # "" runtime default, "unconfined", or a JSON profile
    apparmor: str = ""  # "" runtime default, "unconfined", or a profile name
    masked_paths: tuple[str, ...] | None = None  # None keeps the backend default
    readonly_paths: tuple[str, ...] | None = None
    # a user namespace with these maps (CRI userns_options mode POD); both empty: none. Only a
    # backend with Capability.USER_NAMESPACES is given any.
    uid_mappings: tuple[IdMapping, ...] = ()
    gid_mappings: tuple[IdMapping, ...] = ()


@dataclass(frozen=True)
class VmSpec:
    """One VM to create. ``role``, ``pod_id`` and ``object_id`` say what it is for, for the
    backends that need to know (a backend that models pods). ``labels`` are the caller's
    bookkeeping: a backend puts them on the VM and gives them back in ``VmStatus.labels``,
    and never reads them."""

    name: str
    image: str
    argv: tuple[str, ...]
    labels: dict[str, str]
    placement: Placement
    role: VmRole = VmRole.WORKLOAD
    pod_id: str = ""  # the pod the VM belongs to (its own id, for a pod VM)
    object_id: str = ""  # the id of what the VM runs: the pod's or the container's
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    hostname: str = ""
    ports: tuple[PortSpec, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    image_mounts: tuple[ImageMountSpec, ...] = ()
    devices: tuple[DeviceSpec, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)
    resources: ResourceSpec = ResourceSpec()
    # A pod's: what its containers ask in all, and its overhead (LinuxPodSandboxConfig.resources
    # and .overhead, which the kubelet sends for runtimes that size a sandbox); a backend that
    # runs the pod as a VM of its own sizes the VM from it, the others leave it (as runc does).
    pod_resources: ResourceSpec = ResourceSpec()
    security: SecuritySpec = SecuritySpec()
    stop_signal: str = ""
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False  # stdin closes when the first attach with stdin ends
    cgroup_parent: str = ""  # the pod's, in the syntax of the backend's cgroup driver
    shareable_ipc: bool = False  # other VMs will join this VM's IPC namespace


@dataclass(frozen=True)
class VmStatus:
    vm_id: str
    state: VmState
    exit_code: int | None = None
    started_at: int = 0  # ns since the epoch, 0 when unknown
    finished_at: int = 0  # never before started_at; 0 until the VM has exited
    ip: str = ""
    oom_killed: bool = False
    error: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessUser:
    """The credentials a VM's workload process holds, as its kernel reports them."""

    uid: int
    gid: int
    groups: tuple[int, ...]  # the supplementary groups (getgroups), in the kernel's order


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class OutputRecord:
    """One message a workload wrote, as the backend recorded it."""

    timestamp: int  # ns since the epoch
    stream: str  # stdout | stderr
    data: bytes  # without the trailing newline
    partial: bool  # the line continues in the next record


@dataclass(frozen=True)
class VmStats:
    timestamp: int
    cpu_usage_ns: int
    memory_usage: int
    memory_working_set: int
    memory_rss: int
    memory_limit: int
    page_faults: int
    major_page_faults: int
    pids: int
    network_rx_bytes: int
    network_tx_bytes: int
    network_rx_errors: int
    network_tx_errors: int
    writable_layer_bytes: int


@dataclass(frozen=True)
class ImageInfo:
    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size: int
    user: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]


@dataclass(frozen=True)
class FsUsage:
    mountpoint: str
    used_bytes: int
    inodes_used: int


class OutputStream(Protocol):
    """A cancellable iterator of a VM's output."""

    def __iter__(self) -> Iterator[OutputRecord]: ...

    def close(self) -> None: ...


class ImageBackend(Protocol):
    def pull(self, reference: str, username: str, password: str) -> ImageInfo: ...

    def get(self, reference: str) -> ImageInfo | None: ...

    def list_images(self) -> list[ImageInfo]: ...

    def remove(self, image_id: str) -> None: ...

    def fs_usage(self) -> FsUsage: ...

    def mountpoint(self) -> str:
        """Where the backend keeps images and writable layers."""

    def watch_images(self, changes: ImageChanges, stop: threading.Event) -> None:
        """Report what happens to the image store to ``changes`` until ``stop`` is set, as
        ``ImageChanges`` says; a backend that does not follow its store just waits."""


class VmBackend(Protocol):
    name: str
    capabilities: frozenset[Capability]
    # False: a pod sandbox is a VM of its own, booted from the pod image, with its IP from the
    # start (Docker's pause container). True: the backend has no pods (Apple's CLI) and models a
    # pod sandbox itself: it needs no pod image, and its IP is the one of the workload VM that
    # carries the pod's network identity, so it has none until that workload starts.
    models_pods: bool

    @property
    def images(self) -> ImageBackend: ...

    def setup(self) -> None:
        """Prepare what VMs need (the shim's network); idempotent."""

    def teardown(self) -> None:
        """Release what ``setup`` made, when no VM uses it any more."""

    def network(self) -> str:
        """The backend network a pod VM joins."""

    def ready(self) -> tuple[bool, str]:
        """Whether the backend answers and can run VMs, and why not."""

    def cgroup_driver(self) -> str:
        """The syntax of the cgroup parents the backend puts VMs under (``VmSpec.cgroup_parent``):
        "cgroupfs" or "systemd". RuntimeConfig tells the kubelet."""

    def network_status(self) -> tuple[bool, str]:
        """Whether the network really exists and is usable, and why not."""

    def create_vm(self, spec: VmSpec) -> str: ...

    def start_vm(self, vm_id: str) -> VmStatus: ...

    def stop_vm(self, vm_id: str, timeout: int, signal: str = "") -> None:
        """Send the workload ``signal`` (its stop signal when "", else SIGTERM), SIGKILL it after
        ``timeout`` seconds (always 1 or more: see ``stop``), and return once it has exited."""

    def kill_vm(self, vm_id: str) -> None:
        """SIGKILL the workload at once and return once it has exited."""

    def remove_vm(self, vm_id: str) -> None:
        """Remove the VM, killing its workload if it still runs."""

    def inspect_vm(self, vm_id: str) -> VmStatus: ...

    def list_vms(self) -> dict[str, VmStatus]:
        """Every VM of this shim instance, by id, whatever its state."""

    def process_user(self, vm_id: str) -> ProcessUser | None:
        """The uid, gid and groups of the VM's running workload, read from the process itself
        (not from its config: that is what ContainerStatus.user must report). None when the
        workload is no longer running or the backend cannot see its process."""

    def exec_sync(self, vm_id: str, argv: list[str], timeout: float | None) -> ExecResult: ...

    def update_resources(self, vm_id: str, resources: ResourceSpec) -> None: ...

    def read_output(self, vm_id: str, stream: str, since: int) -> OutputStream:
        """Follow one stream of a VM's output from ``since`` (ns, inclusive) until it exits."""

    def stats(self, vm_id: str) -> VmStats | None: ...

    def watch_changes(self, changes: VmChanges, stop: threading.Event) -> None:
        """Report what happens to this shim's VMs to ``changes`` until ``stop`` is set: every
        exit at least, and everything ``VmChanges`` lists while it says it follows."""


def stop(backend: VmBackend, vm_id: str, timeout: int, signal: str = "") -> None:
    """Stop a VM's workload with ``timeout`` seconds of grace, the CRI's StopContainer rule:
    a timeout of 0 (or less) gives none, so the workload is killed at once. Stated here once;
    a backend's ``stop_vm`` never sees a timeout below 1."""
    if timeout <= 0:
        backend.kill_vm(vm_id)
    else:
        backend.stop_vm(vm_id, timeout, signal)


@runtime_checkable
class PodNetworks(Protocol):
    """Optional: networks of one pod each, for backends that can make them (``separate-vms``).

    Not part of ``VmBackend`` so that a backend without them still is one; a backend that has
    them declares ``Capability.POD_NETWORKS`` (``pod_networks`` finds them).
    """

    def create_pod_network(self, pod_id: str) -> str:
        """Make the pod's own network (idempotent) and return its name, for ``Placement``."""

    def remove_pod_network(self, name: str) -> None:
        """Remove a pod network once no VM is on it; an unknown name is already removed."""

    def pod_networks(self) -> dict[str, str]:
        """Every pod network of this shim instance: name -> the pod id it was made for."""


def pod_networks(backend: VmBackend) -> PodNetworks | None:
    """The backend's pod networks, if it declares it makes them."""
    if Capability.POD_NETWORKS in backend.capabilities and isinstance(backend, PodNetworks):
        return backend
    return None


def user_namespaces(backend: VmBackend) -> bool:
    """Whether the backend runs workloads in user namespaces of their own (the CRI layer then
    accepts ``userns_options`` mode POD and the handler advertises them; else it refuses)."""
    return Capability.USER_NAMESPACES in backend.capabilities
