"""A ``VmSpec`` as the arguments of Docker's container-create call, and what of it Docker Engine
20.10 (API 1.41) has no setting for, refused with the reason."""

from __future__ import annotations

from typing import Any

from docker.types import LogConfig, Mount

from reference_shim.backends.base import Namespace, Placement, ResourceSpec, VmSpec
from reference_shim.backends.docker.privileged import (
    UNMASKED_PATHS,
    expand_all,
    privileged_args,
)
from reference_shim.backends.refusals import Asked, Reasons

UNHONOURED: Reasons = {
    Asked.HUGEPAGE_LIMITS: "Docker Engine 20.10 has no hugepage limit setting (in HostConfig)",
    Asked.UNIFIED: (
        "Docker Engine 20.10 has no cgroup v2 unified resources setting (in HostConfig)"
    ),
    Asked.AMBIENT_CAPABILITIES: (
        "Docker Engine 20.10 grants no ambient capabilities (HostConfig has only CapAdd and "
        "CapDrop)"
    ),
    Asked.RECURSIVE_READ_ONLY: (
        "recursive read-only mounts need Docker API 1.44 (Engine 25), the backend's Engine 20.10 "
        "speaks 1.41"
    ),
    Asked.SELINUX_RELABEL: (
        "the Docker backend's bind mounts (Docker's Mounts API) cannot relabel a host path for "
        "SELinux"
    ),
}


def _container_ref(vm_id: str) -> str:
    return f"container:{vm_id}"


def namespace_modes(placement: Placement, shareable_ipc: bool) -> dict[str, Any]:
    """network_mode / ipc_mode / pid_mode for where the workload is placed.

    ``UTS`` has no mode: Docker Engine 20.10 knows only ``host`` (it accepts ``container:<id>``
    and ignores it), so a workload gets a UTS namespace of its own; joining the network
    namespace gives it the pod VM's hostname (the profiles declare ``multi.uts.namespace``).
    """
    modes: dict[str, Any] = {}
    if placement.inside:
        if Namespace.NETWORK in placement.shared:
            modes["network_mode"] = _container_ref(placement.inside)
        if Namespace.IPC in placement.shared:
            modes["ipc_mode"] = _container_ref(placement.inside)
        if Namespace.PID in placement.shared:
            modes["pid_mode"] = _container_ref(placement.inside)
    else:
        modes["network_mode"] = placement.network
    if placement.pid_of:
        modes["pid_mode"] = _container_ref(placement.pid_of)
    if shareable_ipc and "ipc_mode" not in modes:
        modes["ipc_mode"] = "shareable"
    return modes


def resource_args(resources: ResourceSpec) -> dict[str, Any]:
    """Docker's names for the Linux resources that are set (Docker keeps its default for 0)."""
    values: dict[str, Any] = {
        "cpu_shares": resources.cpu_shares,
        "cpu_quota": resources.cpu_quota,
        "cpu_period": resources.cpu_period,
        "mem_limit": resources.memory_limit,
        "memswap_limit": resources.memory_swap_limit,
        "cpuset_cpus": resources.cpuset_cpus,
        "cpuset_mems": resources.cpuset_mems,
    }
    return {name: value for name, value in values.items() if value}


def _security_opts(spec: VmSpec) -> list[str]:
    security = spec.security
    options = []
    if security.no_new_privs:
        options.append("no-new-privileges")
    if security.seccomp:
        options.append(f"seccomp={security.seccomp}")
    if security.apparmor:
        options.append(f"apparmor={security.apparmor}")
    return options


def _mounts(spec: VmSpec, image_volumes: list[Mount]) -> list[Mount]:
    return image_volumes + [
        Mount(
            target=mount.container_path,
            source=mount.host_path,
            type="bind",
            read_only=mount.readonly,
            propagation=mount.propagation,
        )
        for mount in spec.mounts
    ]


def _port_bindings(spec: VmSpec) -> dict[str, list[tuple[str, int]]]:
    bindings: dict[str, list[tuple[str, int]]] = {}
    for port in spec.ports:
        if port.host_port:
            key = f"{port.container_port}/{port.protocol}"
            bindings.setdefault(key, []).append((port.host_ip or "0.0.0.0", port.host_port))
    return bindings


def host_config_args(spec: VmSpec, image_volumes: list[Mount] | None = None) -> dict[str, Any]:
    """``image_volumes``: the mounts of the VM's filled image volumes (``image_volumes.py``)."""
    security = spec.security
    args: dict[str, Any] = {
        **namespace_modes(spec.placement, spec.shareable_ipc),
        **resource_args(spec.resources),
        "mounts": _mounts(spec, image_volumes or []),
        "port_bindings": _port_bindings(spec),
        "privileged": security.privileged,
        "read_only": security.readonly_rootfs,
        "cap_add": expand_all(security.cap_add, security.cap_drop),
        "cap_drop": list(security.cap_drop) or None,
        "group_add": list(security.group_add) or None,
        "security_opt": _security_opts(spec) or None,
        "sysctls": dict(spec.sysctls) or None,
        "devices": [f"{d.host_path}:{d.container_path}:{d.permissions}" for d in spec.devices]
        or None,
        "log_config": LogConfig(type="json-file"),
        "cgroup_parent": spec.cgroup_parent or None,
    }
    if security.privileged:
        args.update(privileged_args(args["mounts"]))
    if spec.resources.oom_score_adj:
        args["oom_score_adj"] = spec.resources.oom_score_adj
    return args


def extra_host_config(spec: VmSpec) -> dict[str, Any]:
    """HostConfig fields the SDK has no argument for."""
    if spec.security.privileged:
        return dict(UNMASKED_PATHS)
    extra: dict[str, Any] = {}
    if spec.security.masked_paths is not None:
        extra["MaskedPaths"] = list(spec.security.masked_paths)
    if spec.security.readonly_paths is not None:
        extra["ReadonlyPaths"] = list(spec.security.readonly_paths)
    return extra


def extra_config(spec: VmSpec) -> dict[str, Any]:
    """Container config fields the SDK sets only for attached runs: Docker closes the stdin of
    a ``StdinOnce`` container when the first client attached to it ends its stdin."""
    return {"StdinOnce": spec.stdin_once}


def create_args(spec: VmSpec) -> dict[str, Any]:
    """Keyword arguments of ``APIClient.create_container_config`` except ``host_config``, and
    the ``name``."""
    joins_uts = spec.placement.inside and Namespace.UTS in spec.placement.shared
    return {
        "image": spec.image,
        # No argv keeps the image's entrypoint and cmd; an empty list would erase them.
        "entrypoint": list(spec.argv[:1]) or None,
        "command": list(spec.argv[1:]) if spec.argv else None,
        "environment": [f"{key}={value}" for key, value in spec.env],
        "working_dir": spec.working_dir or None,
        "hostname": None if joins_uts else (spec.hostname or None),
        "user": spec.security.user or None,
        "labels": dict(spec.labels),
        "ports": [(port.container_port, port.protocol) for port in spec.ports],
        "name": spec.name,
        "tty": spec.tty,
        "stdin_open": spec.stdin,
        "stop_signal": spec.stop_signal or None,
        "detach": True,
    }
