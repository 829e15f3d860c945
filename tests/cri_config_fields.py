"""The keyword arguments of the CRI config messages the tests build, as TypedDicts.

Test helpers take a message's fields as ``**fields`` and pass them on to its constructor;
typing them ``Unpack[...]`` of these keeps mypy checking each field against the generated
stub (``**fields: object`` could not be checked, and hid wrong field types). Each lists every
field of the message as ``cri_api``'s stub types it, so any field a test sets is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict

from cri_api.v1 import api_pb2 as cri


class PodSandboxConfigFields(TypedDict, total=False):
    """PodSandboxConfig's fields but metadata, which the helpers set."""

    hostname: str
    log_directory: str
    dns_config: cri.DNSConfig | None
    port_mappings: Iterable[cri.PortMapping] | None
    labels: Mapping[str, str] | None
    annotations: Mapping[str, str] | None
    linux: cri.LinuxPodSandboxConfig | None
    windows: cri.WindowsPodSandboxConfig | None


class ContainerConfigFields(TypedDict, total=False):
    """ContainerConfig's fields but metadata and image, which the helpers set."""

    command: Iterable[str] | None
    args: Iterable[str] | None
    working_dir: str
    envs: Iterable[cri.KeyValue] | None
    mounts: Iterable[cri.Mount] | None
    devices: Iterable[cri.Device] | None
    labels: Mapping[str, str] | None
    annotations: Mapping[str, str] | None
    log_path: str
    stdin: bool
    stdin_once: bool
    tty: bool
    linux: cri.LinuxContainerConfig | None
    windows: cri.WindowsContainerConfig | None
    CDI_devices: Iterable[cri.CDIDevice] | None
    stop_signal: cri.Signal.ValueType


class LinuxContainerResourcesFields(TypedDict, total=False):
    """LinuxContainerResources' fields."""

    cpu_period: int
    cpu_quota: int
    cpu_shares: int
    memory_limit_in_bytes: int
    oom_score_adj: int
    cpuset_cpus: str
    cpuset_mems: str
    hugepage_limits: Iterable[cri.HugepageLimit] | None
    unified: Mapping[str, str] | None
    memory_swap_limit_in_bytes: int
