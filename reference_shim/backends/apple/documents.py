"""The CLI's JSON documents as plain values: containers (1.x and 0.x shapes), images, stats.

1.x prints ``{"id", "configuration", "status": {"state", "networks", "startedDate"}}``; releases
before 1.0.0 printed ``{"status": "<state>", "configuration", "networks", "startedDate"}`` with
``address`` for the IP in old builds. Nil fields are omitted, never null.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

from reference_shim.backends.apple.naming import decode_labels
from reference_shim.backends.base import ImageInfo, VmStats
from reference_shim.timestamps import now_ns, parse_rfc3339_nano

_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class AppleContainer:
    id: str
    state: str  # running | stopped | stopping | unknown
    ip: str = ""
    started_at: int = 0  # ns; 0 when it never started (or the apiserver restarted since)
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False


def _ip(network: dict[str, Any]) -> str:
    address = str(network.get("ipv4Address") or network.get("address") or "")
    return address.split("/", 1)[0]


def parse_container(document: dict[str, Any]) -> AppleContainer:
    configuration = document.get("configuration") or {}
    status = document.get("status")
    if isinstance(status, dict):  # 1.x
        state, networks, started = (
            status.get("state"),
            status.get("networks"),
            status.get("startedDate"),
        )
    else:  # 0.x: the state is a string and networks/startedDate sit at the top
        state, networks, started = status, document.get("networks"), document.get("startedDate")
    live = [network for network in networks or () if isinstance(network, dict)]
    return AppleContainer(
        id=str(document.get("id") or configuration.get("id") or ""),
        state=str(state or "unknown"),
        ip=_ip(live[0]) if live else "",
        started_at=parse_rfc3339_nano(str(started or "")),
        labels=decode_labels(dict(configuration.get("labels") or {})),
        tty=bool((configuration.get("initProcess") or {}).get("terminal")),
    )


def parse_containers(documents: Any) -> list[AppleContainer]:
    return [parse_container(document) for document in documents or ()]


# -- images ---------------------------------------------------------------------------


def host_architecture() -> str:
    machine = platform.machine().lower()
    return _ARCHITECTURES.get(machine, machine)


def _variant(document: dict[str, Any], architecture: str) -> dict[str, Any]:
    """The image's manifest for this host (attestations, ``unknown/unknown``, are skipped)."""
    variants = [
        variant
        for variant in document.get("variants") or ()
        if (variant.get("platform") or {}).get("os", "unknown") != "unknown"
    ]
    for variant in variants:
        if (variant.get("platform") or {}).get("architecture") == architecture:
            return dict(variant)
    return dict(variants[0]) if variants else {}


def repository(name: str) -> str:
    """``registry/path/repo`` of a normalized reference (its tag or digest dropped)."""
    name = name.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def image_parts(document: dict[str, Any], architecture: str) -> tuple[str, str, ImageInfo]:
    """(name, id, what one name of the image tells) of an ImageResource."""
    configuration = document.get("configuration") or {}
    name = str(configuration.get("name") or "")
    digest = str((configuration.get("descriptor") or {}).get("digest") or "")
    image_id = "sha256:" + str(document.get("id") or digest.removeprefix("sha256:"))
    variant = _variant(document, architecture)
    config = (variant.get("config") or {}).get("config") or {}
    info = ImageInfo(
        id=image_id,
        repo_tags=(name,) if name and "@" not in name else (),
        repo_digests=(f"{repository(name)}@{digest}",) if name and digest else (),
        size=int(variant.get("size") or 0),
        user=str(config.get("User") or ""),
        entrypoint=tuple(config.get("Entrypoint") or ()),
        cmd=tuple(config.get("Cmd") or ()),
    )
    return name, image_id, info


def parse_images(documents: Any, architecture: str | None = None) -> list[ImageInfo]:
    """One ``ImageInfo`` per image id: Apple lists each name separately, CRI lists images."""
    arch = architecture or host_architecture()
    merged: dict[str, ImageInfo] = {}
    for document in documents or ():
        _, image_id, info = image_parts(document, arch)
        known = merged.get(image_id)
        if known is None:
            merged[image_id] = info
            continue
        merged[image_id] = ImageInfo(
            id=image_id,
            repo_tags=tuple(dict.fromkeys((*known.repo_tags, *info.repo_tags))),
            repo_digests=tuple(dict.fromkeys((*known.repo_digests, *info.repo_digests))),
            size=known.size,
            user=known.user,
            entrypoint=known.entrypoint,
            cmd=known.cmd,
        )
    return list(merged.values())


# -- stats ----------------------------------------------------------------------------


def parse_stats(document: dict[str, Any], timestamp: int | None = None) -> VmStats:
    """Apple's counters (each optional) as ``VmStats``; what it does not measure is 0."""

    def counter(name: str) -> int:
        return int(document.get(name) or 0)

    memory = counter("memoryUsageBytes")
    return VmStats(
        timestamp=timestamp or now_ns(),
        cpu_usage_ns=counter("cpuUsageUsec") * 1000,
        memory_usage=memory,
        memory_working_set=memory,  # Apple reports one memory figure; no page-cache split
        memory_rss=0,
        memory_limit=counter("memoryLimitBytes"),
        page_faults=0,
        major_page_faults=0,
        pids=counter("numProcesses"),
        network_rx_bytes=counter("networkRxBytes"),
        network_tx_bytes=counter("networkTxBytes"),
        network_rx_errors=0,
        network_tx_errors=0,
        writable_layer_bytes=0,
    )
