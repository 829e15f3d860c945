"""A CRI runtime whose list calls ignore their filters: containerd behind a proxy (tests only).

Every RPC goes on to containerd as raw bytes. The four List RPCs that take a filter are decoded
and sent on with the filter cleared, as a runtime that ignores filters would. Named methods can
be made to fail instead, to play a runtime that cannot list.

containerd is shared with other runs on this machine, and a harness whose cleanup trusts the
filter removes whatever a list returns. So list answers hold only the objects created through
the proxy and those the test shows it (its foreign pod): a broken harness under test can harm
nothing but the test's own objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_proxy import RUNTIME, CriProxy
from google.protobuf.message import Message


@dataclass(frozen=True)
class ListCall:
    """A List RPC: its messages, the repeated field of its answer, the id of one entry."""

    request: type[Message]
    response: type[Message]
    entries: str
    id_of: Callable[[Any], str]

    def without_filter(self, request: bytes) -> bytes:
        decoded = self.request.FromString(request)
        decoded.ClearField("filter")
        return decoded.SerializeToString()

    def only(self, response: bytes, visible: set[str]) -> bytes:
        decoded = self.response.FromString(response)
        kept = self.response()
        entries = [e for e in getattr(decoded, self.entries) if self.id_of(e) in visible]
        getattr(kept, self.entries).extend(entries)
        return kept.SerializeToString()


LISTS = {
    RUNTIME + "ListPodSandbox": ListCall(
        cri.ListPodSandboxRequest, cri.ListPodSandboxResponse, "items", lambda pod: pod.id
    ),
    RUNTIME + "ListContainers": ListCall(
        cri.ListContainersRequest, cri.ListContainersResponse, "containers", lambda c: c.id
    ),
    RUNTIME + "ListContainerStats": ListCall(
        cri.ListContainerStatsRequest,
        cri.ListContainerStatsResponse,
        "stats",
        lambda stats: stats.attributes.id,
    ),
    RUNTIME + "ListPodSandboxStats": ListCall(
        cri.ListPodSandboxStatsRequest,
        cri.ListPodSandboxStatsResponse,
        "stats",
        lambda stats: stats.attributes.id,
    ),
}


class FilterIgnoringProxy(CriProxy):
    """``with FilterIgnoringProxy(containerd, socket) as proxy:`` serves ``proxy.endpoint``."""

    def __init__(self, upstream: str, socket: Path, failing: frozenset[str] = frozenset()) -> None:
        super().__init__(upstream, f"unix:{socket}")
        self.endpoint = f"unix://{socket}"
        self._shown: set[str] = set()
        self._failing = failing

    def __enter__(self) -> FilterIgnoringProxy:
        super().__enter__()
        return self

    def show(self, *object_ids: str) -> None:
        """Let list answers include these objects, created elsewhere."""
        with self._lock:
            self._shown.update(object_ids)

    def answer(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        if method in self._failing:
            context.abort(grpc.StatusCode.INTERNAL, f"{method} fails on purpose (test proxy)")
        listing = LISTS.get(method)
        if listing:
            request = listing.without_filter(request)
        answer = self.forward(method, request, context)
        if listing:
            with self._lock:
                visible = {*self.created["pods"], *self.created["containers"], *self._shown}
            answer = listing.only(answer, visible)
        return answer
