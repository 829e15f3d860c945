"""Security-context configs that read as what the test asks for.

``make_container(pod, linux=secured(run_as_user=uid(1000)))`` instead of three nested
messages; ``make_pod(linux=pod_namespaces(network=api.NODE))`` for host namespaces.
"""

from __future__ import annotations

from typing import Any

from cri_api.v1 import api_pb2 as api

# The kubelet's defaults for a container without procMount: Unmasked (DefaultProcMount).
KUBELET_MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
KUBELET_READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def uid(value: int) -> api.Int64Value:
    return api.Int64Value(value=value)


def secured(**fields: Any) -> api.LinuxContainerConfig:
    """A LinuxContainerConfig whose security context has ``fields``."""
    return api.LinuxContainerConfig(security_context=api.LinuxContainerSecurityContext(**fields))


def capabilities(add: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> api.Capability:
    return api.Capability(add_capabilities=list(add), drop_capabilities=list(drop))


def security_profile(profile_type: int, localhost_ref: str = "") -> api.SecurityProfile:
    """A seccomp or AppArmor profile: RuntimeDefault, Unconfined, or Localhost with its ref."""
    return api.SecurityProfile(profile_type=profile_type, localhost_ref=localhost_ref)  # type: ignore[arg-type]


def namespaces(
    network: int = api.POD, pid: int = api.POD, ipc: int = api.POD
) -> api.NamespaceOption:
    return api.NamespaceOption(network=network, pid=pid, ipc=ipc)  # type: ignore[arg-type]


def pod_security(**fields: Any) -> api.LinuxPodSandboxConfig:
    """A LinuxPodSandboxConfig whose security context has ``fields``."""
    return api.LinuxPodSandboxConfig(security_context=api.LinuxSandboxSecurityContext(**fields))
