"""Polling with a deadline: tests wait for a state, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0


def wait_until(
    probe: Callable[[], T],
    accept: Callable[[T], bool],
    *,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.1,
) -> T:
    """Call ``probe`` until ``accept`` takes its result; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if accept(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what}; last: {value!r}"
            )
        time.sleep(interval)


def container_state_name(state: int) -> str:
    return cri.ContainerState.Name(state)  # type: ignore[arg-type]


def wait_for_container_state(
    client: CriClient, container_id: str, state: int, timeout: float = DEFAULT_TIMEOUT
) -> cri.ContainerStatus:
    return wait_until(
        lambda: client.container_status(container_id).status,
        lambda status: status.state == state,
        what=f"container {container_id[:13]} to be {container_state_name(state)}",
        timeout=timeout,
    )


def wait_for_exit(
    client: CriClient, container_id: str, timeout: float = DEFAULT_TIMEOUT
) -> cri.ContainerStatus:
    """The status of the container once it has exited."""
    return wait_for_container_state(client, container_id, cri.CONTAINER_EXITED, timeout)
