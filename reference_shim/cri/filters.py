"""List filters as the CRI defines them: every given criterion must hold (AND).

An id criterion matches by unique prefix, as containerd resolves truncated ids; a label
selector matches when each of its key=value pairs is among the object's labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cri_api.v1 import api_pb2 as cri

from reference_shim.state import ids
from reference_shim.state.records import ContainerRecord, PodRecord


def labels_match(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _id_matches(object_id: str, wanted: str, known: Iterable[str]) -> bool:
    """Empty means any; otherwise the unique id the prefix names must be this object."""
    if not wanted:
        return True
    resolved = ids.find(wanted, known)
    return resolved == object_id


def pods(records: list[PodRecord], pod_filter: cri.PodSandboxFilter | None) -> list[PodRecord]:
    if pod_filter is None:
        return records
    known = [pod.id for pod in records]
    return [
        pod
        for pod in records
        if _id_matches(pod.id, pod_filter.id, known)
        and (not pod_filter.HasField("state") or pod.state == pod_filter.state.state)
        and labels_match(pod.config.labels, pod_filter.label_selector)
    ]


def containers(
    records: list[ContainerRecord],
    pod_ids: list[str],
    container_filter: cri.ContainerFilter | None,
) -> list[ContainerRecord]:
    if container_filter is None:
        return records
    known = [container.id for container in records]
    return [
        container
        for container in records
        if _id_matches(container.id, container_filter.id, known)
        and _id_matches(container.pod_id, container_filter.pod_sandbox_id, pod_ids)
        and (
            not container_filter.HasField("state")
            or container.state == container_filter.state.state
        )
        and labels_match(container.config.labels, container_filter.label_selector)
    ]


def container_stats(
    records: list[ContainerRecord],
    pod_ids: list[str],
    stats_filter: cri.ContainerStatsFilter | None,
) -> list[ContainerRecord]:
    if stats_filter is None:
        return records
    as_container_filter = cri.ContainerFilter(
        id=stats_filter.id,
        pod_sandbox_id=stats_filter.pod_sandbox_id,
        label_selector=stats_filter.label_selector,
    )
    return containers(records, pod_ids, as_container_filter)


def pod_stats(
    records: list[PodRecord], stats_filter: cri.PodSandboxStatsFilter | None
) -> list[PodRecord]:
    if stats_filter is None:
        return records
    as_pod_filter = cri.PodSandboxFilter(
        id=stats_filter.id, label_selector=stats_filter.label_selector
    )
    return pods(records, as_pod_filter)
