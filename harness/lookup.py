"""List queries the suites make again and again, reduced to the ids they compare; unknown ids."""

from __future__ import annotations

import secrets
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused


def unknown_id() -> str:
    """An id shaped like a runtime's (64 hex digits) that no object has, new at each call.

    Random rather than one fixed value, so a runtime cannot special-case it and two runs on
    one node never share it.
    """
    return secrets.token_hex(32)


def container_ids(cri: CriClient, **filter_fields: Any) -> set[str]:
    """Ids from ListContainers with a ContainerFilter of ``filter_fields`` (none: all)."""
    filter = api.ContainerFilter(**filter_fields) if filter_fields else None
    return {container.id for container in cri.list_containers(filter)}


def container_stats_ids(cri: CriClient, **filter_fields: Any) -> set[str]:
    filter = api.ContainerStatsFilter(**filter_fields) if filter_fields else None
    return {stats.attributes.id for stats in cri.list_container_stats(filter)}


def pod_stats_ids(cri: CriClient, **filter_fields: Any) -> set[str]:
    filter = api.PodSandboxStatsFilter(**filter_fields) if filter_fields else None
    return {stats.attributes.id for stats in cri.list_pod_stats(filter)}


def assert_container_gone(cri: CriClient, container_id: str) -> None:
    """A removed container is neither listed nor known to ContainerStatus (NOT_FOUND)."""
    assert container_id not in container_ids(cri), f"{container_id[:13]} is still listed"
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.container_status(container_id)
