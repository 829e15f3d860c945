"""A ``VmSpec`` as the arguments of ``container create``, or UNIMPLEMENTED saying why not.

Apple's CLI has one VM per container and fewer knobs than an OCI runtime: what it cannot do
is refused here, field by field, with the reason, before anything is created.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from reference_shim.backends.apple.naming import label_args
from reference_shim.backends.base import MountSpec, PortSpec, ResourceSpec, SecuritySpec, VmSpec
from reference_shim.backends.confinement import refuse_profiles
from reference_shim.backends.refusals import Asked, Reasons, asked, refuse
from reference_shim.errors import InvalidArgument, Unimplemented

DEFAULT_NETWORK = "default"
RESOLV_CONF = "/etc/resolv.conf"
MIN_MEMORY = 200 * 1024 * 1024
_MIB = 1024 * 1024
_DEFAULT_CPU_PERIOD = 100_000
_MAX_PUBLISHED = 64
_MOUNT_SYNTAX = (":", ",")
# On macOS, which has no SELinux, a relabel asks for nothing (``refusals.asked``).
UNHONOURED: Reasons = {
    Asked.HUGEPAGE_LIMITS: "Apple's container CLI has no hugepage limit flag",
    Asked.UNIFIED: "Apple's container CLI has no cgroup setting (only --cpus and --memory)",
    Asked.AMBIENT_CAPABILITIES: (
        "Apple's container CLI has no ambient capability flag (only --cap-add and --cap-drop)"
    ),
    Asked.RECURSIVE_READ_ONLY: "Apple's --volume has no recursive read-only option (only ro)",
    Asked.SELINUX_RELABEL: "Apple's --volume has no SELinux relabel option",
}


@dataclass(frozen=True)
class Identity:
    """The network identity a workload VM carries: its own, or the modelled pod's it runs for."""

    hostname: str
    network: str = DEFAULT_NETWORK
    ports: tuple[PortSpec, ...] = ()


def refuse_pod_features(spec: VmSpec) -> None:
    """What a pod sandbox asks for that no Apple VM can have.

    ``cgroup_parent`` is not among them: it names a cgroup of the node, and macOS has none, so
    the field has nothing to act on here (as Windows fields have nothing on Linux). Refusing it
    would refuse every pod a kubelet sends; the profile declares the rule it breaks instead.
    """
    if spec.sysctls:
        raise Unimplemented(
            f"sysctls {sorted(spec.sysctls)} cannot be set: Apple's container CLI has no "
            "sysctl flag (its VMs always run with vm.overcommit_memory=1 and "
            "vm.max_map_count=262144)"
        )
    if spec.security.privileged:
        raise Unimplemented(
            "privileged pods are not supported: Apple's container CLI has no --privileged "
            "(all capabilities alone are not privileged: no host devices, no writable /sys)"
        )


def _ports(ports: tuple[PortSpec, ...]) -> list[str]:
    published = [port for port in ports if port.host_port]
    if len(published) > _MAX_PUBLISHED:
        raise Unimplemented(f"Apple's container CLI publishes at most {_MAX_PUBLISHED} ports")
    args = []
    for port in published:
        if port.protocol not in {"tcp", "udp"}:
            raise Unimplemented(f"{port.protocol} ports cannot be published (only tcp and udp)")
        if min(port.host_port, port.container_port) < 2:
            raise Unimplemented("Apple's container CLI publishes only ports 2 and above")
        host_ip = f"[{port.host_ip}]" if ":" in port.host_ip else port.host_ip
        prefix = f"{host_ip}:" if host_ip else ""
        args += ["--publish", f"{prefix}{port.host_port}:{port.container_port}/{port.protocol}"]
    return args


def dns_args(resolv_conf: Path) -> list[str]:
    """The CRI layer's resolv.conf as ``--dns*`` flags: Apple writes the guest's resolv.conf
    itself from them (a file share over it is not how the CLI configures DNS)."""
    args: list[str] = []
    flags = {"nameserver": "--dns", "search": "--dns-search", "options": "--dns-option"}
    for line in resolv_conf.read_text().splitlines():
        keyword, *values = line.split()
        if keyword not in flags:
            raise Unimplemented(
                f"resolv.conf keyword {keyword!r} cannot be given to Apple's container CLI "
                "(only nameserver, search and options)"
            )
        for value in values:
            args += [flags[keyword], value]
    return args or ["--no-dns"]


def _mounts(mounts: tuple[MountSpec, ...]) -> list[str]:
    args = []
    for mount in mounts:
        if mount.container_path == RESOLV_CONF:
            args += dns_args(Path(mount.host_path))
            continue
        if mount.propagation != "rprivate":
            raise Unimplemented(
                f"mount propagation {mount.propagation} of {mount.container_path} is not "
                "supported: Apple shares host folders into the VM over virtiofs, which has none"
            )
        if any(
            mark in path
            for path in (mount.host_path, mount.container_path)
            for mark in _MOUNT_SYNTAX
        ):
            raise Unimplemented(
                f"mount {mount.host_path}:{mount.container_path}: Apple's --volume syntax cannot "
                "carry paths with ':' or ','"
            )
        options = ":ro" if mount.readonly else ""
        # Always an absolute host path: a source without '/' would name a volume.
        args += ["--volume", f"{mount.host_path}:{mount.container_path}{options}"]
    return args


def resource_args(resources: ResourceSpec) -> list[str]:
    """Whole vCPUs and a memory size; what Apple has no knob for is refused or, when it cannot
    matter in a VM of one's own, accepted without effect (docs/apple-backend.md says which)."""
    if resources.cpuset_cpus or resources.cpuset_mems:
        raise Unimplemented("cpusets are not supported: an Apple VM has its own virtual CPUs")
    swap = resources.memory_swap_limit
    if swap and swap != resources.memory_limit:
        raise Unimplemented("a swap limit is not supported: Apple VMs have no swap knob")
    args = []
    if resources.cpu_quota > 0:
        period = resources.cpu_period or _DEFAULT_CPU_PERIOD
        args += ["--cpus", str(max(1, math.ceil(resources.cpu_quota / period)))]
    if resources.memory_limit:
        if resources.memory_limit < MIN_MEMORY:
            raise Unimplemented(
                f"memory limit {resources.memory_limit} bytes is below the 200 MiB an Apple VM "
                "needs to boot"
            )
        args += ["--memory", f"{math.ceil(resources.memory_limit / _MIB)}M"]
    return args


def security_args(security: SecuritySpec) -> list[str]:
    if security.privileged:
        raise Unimplemented("privileged containers are not supported: Apple has no --privileged")
    if security.group_add:
        raise Unimplemented(
            "supplemental groups are not supported: Apple's container CLI has no --group-add"
        )
    if security.no_new_privs:
        raise Unimplemented("no_new_privs cannot be set: Apple's container CLI has no flag for it")
    refuse_profiles(security, "Apple's container CLI has no seccomp or AppArmor setting")
    args = ["--user", security.user] if security.user else []
    if security.readonly_rootfs:
        args.append("--read-only")
    for capability in security.cap_drop:
        args += ["--cap-drop", capability]
    for capability in security.cap_add:
        args += ["--cap-add", capability]
    for path in security.masked_paths or ():
        args += ["--masked-path", path]
    for path in security.readonly_paths or ():
        args += ["--read-only-path", path]
    return args


def create_args(
    spec: VmSpec, vm_id: str, image: str, identity: Identity, labels: dict[str, str]
) -> list[str]:
    """``container create`` for ``spec``, named ``vm_id``, from the image reference ``image``."""
    refuse(asked(spec), UNHONOURED)
    if spec.devices:
        raise Unimplemented("devices are not supported: Apple's container CLI has no device flag")
    if spec.image_mounts:
        raise Unimplemented(
            "image volumes (mounts[].image) are not supported: Apple's container CLI mounts host "
            "folders only, and the backend does not unpack images on the host"
        )
    refuse_pod_features(spec)
    if not spec.argv or not spec.argv[0]:
        raise InvalidArgument(f"VM {spec.name}: the command is empty")
    args = ["create", "--name", vm_id]
    if identity.network != DEFAULT_NETWORK:
        args += ["--network", identity.network]
    args += _ports(identity.ports)
    args += _mounts(spec.mounts)
    for key, value in spec.env:
        args += ["--env", f"{key}={value}"]
    if spec.working_dir:
        args += ["--workdir", spec.working_dir]
    args += resource_args(spec.resources)
    args += security_args(spec.security)
    if spec.tty:
        args.append("--tty")
    if spec.stdin_once:
        raise Unimplemented(
            "stdin_once cannot be honoured: the container's stdin belongs to its keeper "
            "(`container start --attach`), since Apple's CLI cannot attach to a running "
            "container, so no attach ever ends it"
        )
    if spec.stdin:
        args.append("--interactive")
    args += label_args(labels)
    # With --entrypoint the image's cmd is dropped and the positional arguments follow it;
    # everything after the image is passed through, even arguments that look like flags.
    return [*args, "--entrypoint", spec.argv[0], image, *spec.argv[1:]]
