"""CRI configs as VM specs: the CRI meaning of each field, decided here once for every backend.

Fields no backend can honour were refused before (``reference_shim.cri.unhonoured``); what
needs the host to decide (a profile file, AppArmor) is refused here, never dropped; what only
some backends honour goes on in the spec, for the backend to honour or refuse
(``reference_shim.backends.refusals``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeAlias

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import (
    DeviceSpec,
    ImageInfo,
    ImageMountSpec,
    MountSpec,
    Placement,
    PortSpec,
    ResourceSpec,
    SecuritySpec,
    VmRole,
    VmSpec,
)
from reference_shim.backends.labels import POD_ID_LABEL
from reference_shim.cri import user_namespaces
from reference_shim.errors import InvalidArgument, NotFound, Unimplemented
from reference_shim.state.records import ContainerRecord, PodRecord

KIND_LABEL = "io.cri-conformance.shim.kind"
CONTAINER_ID_LABEL = "io.cri-conformance.shim.container-id"

_MAX_PROFILE_BYTES = 1 << 20  # seccomp profiles are JSON of a few kilobytes
_PROTOCOL_NAMES = {cri.TCP: "tcp", cri.UDP: "udp", cri.SCTP: "sctp"}
_PROPAGATION = {
    cri.PROPAGATION_PRIVATE: "rprivate",
    cri.PROPAGATION_HOST_TO_CONTAINER: "rslave",
    cri.PROPAGATION_BIDIRECTIONAL: "rshared",
}
_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_.-]")
_APPARMOR_ENABLED = Path("/sys/module/apparmor/parameters/enabled")


def vm_name(kind: str, name: str, object_id: str) -> str:
    return f"crishim-{kind}-{_UNSAFE_NAME.sub('-', name)[:40]}-{object_id[:12]}"


# -- pod sandbox ----------------------------------------------------------------------


def pod_hostname(config: cri.PodSandboxConfig) -> str:
    return config.hostname or config.metadata.name[:63]


def hosts_file(ip: str, hostname: str) -> str:
    """The /etc/hosts of a pod whose containers do not share one VM, laid out as the kubelet
    writes its managed hosts file: loopback names, then the pod IP under the pod hostname (a
    backend that models pods knows the IP only once a workload starts: then there is none)."""
    pod_line = f"{ip}\t{hostname}\n" if ip else ""
    return (
        "# Kubernetes-managed hosts file (written by the cri-conformance reference shim)\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        f"{pod_line}"
    )


def resolv_conf(dns: cri.DNSConfig) -> str:
    """The resolv.conf a pod's containers see, laid out as containerd writes it."""
    lines = []
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    lines += [f"nameserver {server}" for server in dns.servers]
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "".join(line + "\n" for line in lines)


def port_specs(config: cri.PodSandboxConfig) -> list[PortSpec]:
    return [
        PortSpec(
            protocol=_PROTOCOL_NAMES[mapping.protocol],
            container_port=mapping.container_port,
            host_port=mapping.host_port,
            host_ip=mapping.host_ip,
        )
        for mapping in config.port_mappings
    ]


def shim_serves(port: PortSpec) -> bool:
    """Whether the shim forwards this mapping itself when a pod asks it to (TCP host ports)."""
    return port.protocol == "tcp" and port.host_port > 0


def pod_spec(pod: PodRecord, image: str, placement: Placement) -> VmSpec:
    config = pod.config
    return VmSpec(
        name=vm_name("pod", f"{config.metadata.name}_{config.metadata.namespace}", pod.id),
        image=image,
        argv=(),
        labels={KIND_LABEL: "pod", POD_ID_LABEL: pod.id},
        placement=placement,
        role=VmRole.POD,
        pod_id=pod.id,
        object_id=pod.id,
        hostname=pod_hostname(config),
        ports=tuple(p for p in port_specs(config) if not (pod.shim_ports and shim_serves(p))),
        sysctls=dict(config.linux.sysctls),
        pod_resources=pod_resources(config.linux),
        security=pod_security(config.linux.security_context),
        cgroup_parent=config.linux.cgroup_parent,
        shareable_ipc=True,
    )


def pod_resources(linux: cri.LinuxPodSandboxConfig) -> ResourceSpec:
    """The pod's resources with its overhead added to what has a limit: the memory and CPU
    quota a VM of the pod's own needs (api.proto LinuxPodSandboxConfig: ``overhead`` is what
    the sandbox costs on top of its containers, ``resources`` their sum)."""
    asked, overhead = resources(linux.resources), linux.overhead
    memory = asked.memory_limit + overhead.memory_limit_in_bytes if asked.memory_limit else 0
    quota = asked.cpu_quota + overhead.cpu_quota if asked.cpu_quota > 0 else asked.cpu_quota
    return replace(asked, memory_limit=memory, cpu_quota=quota)


# -- container ------------------------------------------------------------------------


def argv(config: cri.ContainerConfig, image: ImageInfo) -> tuple[str, ...]:
    """CRI command replaces the image entrypoint, args replace its cmd; a command without
    args drops the image's cmd (as containerd does)."""
    if config.command:
        return (*config.command, *config.args)
    args = tuple(config.args) or image.cmd
    full = (*image.entrypoint, *args)
    if not full:
        raise InvalidArgument(
            f"container {config.metadata.name!r}: no command given and image "
            f"{config.image.image!r} has neither entrypoint nor cmd"
        )
    return full


def image_mounts(
    config: cri.ContainerConfig, lookup: Callable[[str], ImageInfo | None]
) -> tuple[ImageMountSpec, ...]:
    """The image volumes of ``config``, each image resolved to the id the backend holds.

    api.proto Mount.image: the kubelet pulls the image first and passes its image_ref; an
    image the backend does not hold is NOT_FOUND, as for the container's own image.
    """
    found = []
    for mount in config.mounts:
        if not mount.image.image:
            continue
        image = lookup(mount.image.image)
        if image is None:
            raise NotFound(
                f"mount {mount.container_path!r}: image {mount.image.image!r} not found: pull it "
                "first"
            )
        found.append(ImageMountSpec(image.id, mount.container_path, mount.image_sub_path))
    return tuple(found)


def _mount(mount: cri.Mount) -> MountSpec:
    source = os.path.realpath(mount.host_path)  # CRI: follow a symlinked host path
    if not mount.host_path or not os.path.exists(source):
        raise InvalidArgument(f"mount host_path {mount.host_path!r} does not exist on the host")
    return MountSpec(
        host_path=source,
        container_path=mount.container_path,
        readonly=mount.readonly,
        propagation=_PROPAGATION.get(mount.propagation, "rprivate"),
        recursive_readonly=mount.recursive_read_only,
        selinux_relabel=mount.selinux_relabel,
    )


SecurityContext: TypeAlias = cri.LinuxContainerSecurityContext | cri.LinuxSandboxSecurityContext


def _username(context: SecurityContext) -> str:
    if isinstance(context, cri.LinuxContainerSecurityContext):
        return context.run_as_username
    return ""  # a sandbox's context has no user name


def _legacy_apparmor(context: SecurityContext) -> str:
    if isinstance(context, cri.LinuxContainerSecurityContext):
        return context.apparmor_profile
    return ""  # a sandbox's context has only ``apparmor``


def _user(context: SecurityContext) -> str:
    group = str(context.run_as_group.value) if context.HasField("run_as_group") else ""
    if _username(context):
        user = _username(context)
    elif context.HasField("run_as_user"):
        user = str(context.run_as_user.value)
    elif group:
        raise InvalidArgument("run_as_group is set without run_as_user or run_as_username")
    else:
        return ""
    return f"{user}:{group}" if group else user


def _seccomp(context: SecurityContext) -> str:
    """CRI's default is unconfined; RuntimeDefault is the backend's default profile."""
    if context.HasField("seccomp"):
        profile_type, ref = context.seccomp.profile_type, context.seccomp.localhost_ref
    elif context.seccomp_profile_path.startswith("localhost/"):
        profile_type, ref = cri.SecurityProfile.Localhost, context.seccomp_profile_path[10:]
    elif context.seccomp_profile_path in {"runtime/default", "docker/default"}:
        profile_type, ref = cri.SecurityProfile.RuntimeDefault, ""
    else:
        profile_type, ref = cri.SecurityProfile.Unconfined, ""
    if profile_type == cri.SecurityProfile.RuntimeDefault:
        return ""
    if profile_type == cri.SecurityProfile.Unconfined:
        return "unconfined"
    return _localhost_profile(ref)


def _localhost_profile(ref: str) -> str:
    """The text of a profile file on the node, read only if it is a regular file of sane size:
    the path is the caller's, and a device (``/dev/zero``) or a FIFO would never end."""
    try:
        if not stat.S_ISREG(os.stat(ref).st_mode):
            raise InvalidArgument(f"seccomp profile {ref!r} is not a regular file")
        with open(ref, "rb") as file:
            data = file.read(_MAX_PROFILE_BYTES + 1)
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise InvalidArgument(f"cannot read seccomp profile {ref!r}: {error}") from error
    if len(data) > _MAX_PROFILE_BYTES:
        raise InvalidArgument(
            f"seccomp profile {ref!r} is larger than {_MAX_PROFILE_BYTES} bytes; no profile is"
        )
    return data.decode(errors="replace")


def _apparmor_enabled() -> bool:
    return _APPARMOR_ENABLED.exists() and _APPARMOR_ENABLED.read_text().strip() == "Y"


def _apparmor(context: SecurityContext) -> str:
    """ "" for the runtime default, "unconfined", or the name of a profile loaded on the host."""
    legacy = _legacy_apparmor(context)
    if context.HasField("apparmor"):
        kind, profile = context.apparmor.profile_type, context.apparmor.localhost_ref
    elif legacy.startswith("localhost/"):
        kind, profile = cri.SecurityProfile.Localhost, legacy[10:]
    elif legacy == "unconfined":
        kind, profile = cri.SecurityProfile.Unconfined, ""
    else:
        kind, profile = cri.SecurityProfile.RuntimeDefault, ""
    if kind == cri.SecurityProfile.RuntimeDefault:
        return ""
    if not _apparmor_enabled():
        if kind == cri.SecurityProfile.Unconfined:
            return ""  # without AppArmor every process is unconfined already
        raise Unimplemented(
            f"AppArmor profile {profile!r} was asked for, but AppArmor is not enabled on this host"
        )
    return "unconfined" if kind == cri.SecurityProfile.Unconfined else profile


def _capability(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def capabilities(asked: cri.Capability) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The capabilities to add and to drop, with the drops applied after the adds as containerd
    and CRI-O do: a capability in both lists is dropped, and dropping ALL cancels adding ALL
    (not the capabilities added by name)."""
    drop = tuple(_capability(c) for c in asked.drop_capabilities)
    add = tuple(c for c in map(_capability, asked.add_capabilities) if c not in drop)
    return add, drop


def security(config: cri.ContainerConfig, pod: PodRecord) -> SecuritySpec:
    context = config.linux.security_context
    if context.privileged and not pod.config.linux.security_context.privileged:
        raise InvalidArgument("a privileged container needs a privileged pod sandbox")
    cap_add, cap_drop = capabilities(context.capabilities)
    uid_mappings, gid_mappings = user_namespaces.of_container(pod.config, config)
    return SecuritySpec(
        user=_user(context),
        group_add=tuple(str(group) for group in context.supplemental_groups),
        strict_groups=context.supplemental_groups_policy == cri.Strict,
        privileged=context.privileged,
        readonly_rootfs=context.readonly_rootfs,
        cap_add=cap_add,
        cap_drop=cap_drop,
        ambient_capabilities=tuple(map(_capability, context.capabilities.add_ambient_capabilities)),
        no_new_privs=context.no_new_privs,
        seccomp=_seccomp(context),
        apparmor=_apparmor(context),
        # Exactly the config's lists: an empty one masks nothing (the kubelet sends both
        # empty for procMount Unmasked), as the OCI spec containerd hands runc.
        masked_paths=tuple(context.masked_paths),
        readonly_paths=tuple(context.readonly_paths),
        uid_mappings=uid_mappings,
        gid_mappings=gid_mappings,
    )


def pod_security(context: cri.LinuxSandboxSecurityContext) -> SecuritySpec:
    """The sandbox's own process: the pod VM's on Docker (a pause); a backend that models pods
    runs none, and api.proto says this context may then not apply."""
    return SecuritySpec(
        user=_user(context),
        group_add=tuple(str(group) for group in context.supplemental_groups),
        privileged=context.privileged,
        readonly_rootfs=context.readonly_rootfs,
        seccomp=_seccomp(context),
        apparmor=_apparmor(context),
    )


def without_extra_swap(linux: cri.LinuxContainerResources) -> cri.LinuxContainerResources:
    """``linux`` with memory plus swap limited to the memory limit when no swap limit is given.

    A pod gets no swap unless asked for (Kubernetes NodeSwap): containerd and CRI-O make a
    memory limit without a swap limit one on memory plus swap, and report that swap limit in
    ContainerStatus; Docker would let the container swap as much again as its memory.
    """
    limited = cri.LinuxContainerResources()
    limited.CopyFrom(linux)
    if linux.memory_limit_in_bytes and not linux.memory_swap_limit_in_bytes:
        limited.memory_swap_limit_in_bytes = linux.memory_limit_in_bytes
    return limited


def resources(asked: cri.LinuxContainerResources) -> ResourceSpec:
    linux = without_extra_swap(asked)
    return ResourceSpec(
        cpu_shares=linux.cpu_shares,
        cpu_quota=linux.cpu_quota,
        cpu_period=linux.cpu_period,
        memory_limit=linux.memory_limit_in_bytes,
        memory_swap_limit=linux.memory_swap_limit_in_bytes,
        cpuset_cpus=linux.cpuset_cpus,
        cpuset_mems=linux.cpuset_mems,
        oom_score_adj=linux.oom_score_adj,
        hugepage_limits=tuple((limit.page_size, limit.limit) for limit in linux.hugepage_limits),
        unified=tuple(sorted(linux.unified.items())),
    )


@dataclass(frozen=True)
class PodFiles:
    """Files the shim writes for a pod and mounts into each of its containers (None: none)."""

    resolv_conf: Path | None = None
    hosts: Path | None = None


def _pod_file_mounts(files: PodFiles, taken: set[str], readonly: bool) -> list[MountSpec]:
    """The pod's files, unless the config mounts something of its own at that path."""
    wanted = (("/etc/resolv.conf", files.resolv_conf), ("/etc/hosts", files.hosts))
    return [
        MountSpec(str(source), target, readonly=readonly)
        for target, source in wanted
        if source is not None and target not in taken
    ]


def container_spec(
    container: ContainerRecord,
    pod: PodRecord,
    image: ImageInfo,
    placement: Placement,
    files: PodFiles,
    image_volumes: tuple[ImageMountSpec, ...] = (),
) -> VmSpec:
    """A container inside the pod VM gets the pod's hostname and sysctls from the pod VM; one in
    a VM of its own gets them set on that VM. ``image_volumes``: from ``image_mounts``."""
    config = container.config
    context = config.linux.security_context
    mounts = [_mount(mount) for mount in config.mounts if not mount.image.image]
    taken = {mount.container_path for mount in config.mounts}
    mounts += _pod_file_mounts(files, taken, readonly=context.readonly_rootfs)
    own_vm = not placement.inside
    return VmSpec(
        name=vm_name("ctr", config.metadata.name, container.id),
        image=image.id,
        argv=argv(config, image),
        labels={KIND_LABEL: "container", POD_ID_LABEL: pod.id, CONTAINER_ID_LABEL: container.id},
        role=VmRole.WORKLOAD,
        pod_id=pod.id,
        object_id=container.id,
        placement=placement,
        env=tuple((env.key, env.value) for env in config.envs),
        working_dir=config.working_dir,
        mounts=tuple(mounts),
        image_mounts=image_volumes,
        devices=tuple(
            DeviceSpec(d.host_path, d.container_path, d.permissions or "rwm")
            for d in config.devices
        ),
        resources=resources(config.linux.resources),
        security=security(config, pod),
        stop_signal=cri.Signal.Name(config.stop_signal) if config.stop_signal else "",
        tty=config.tty,
        stdin=config.stdin,
        stdin_once=config.stdin and config.stdin_once,
        cgroup_parent=pod.config.linux.cgroup_parent,
        hostname=pod_hostname(pod.config) if own_vm else "",
        sysctls=dict(pod.config.linux.sysctls) if own_vm else {},
    )
