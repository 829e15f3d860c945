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

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as cri
from google.protobuf.message import Message

RUNTIME = "/runtime.v1.RuntimeService/"


@dataclass(frozen=True)
class ListCall:
    """A List RPC: its messages, the repeated field of its answer, the id of one entry."""

    request: type[Message]
    response: type[Message]
    entries: str
    id_of: Callable[[Any], str]

    def without_filter(self, request: bytes) -> bytes:
        decoded = self.request.FromString(request)
        decoded.ClearField("filter")  # type: ignore[arg-type]
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
CREATES: dict[str, tuple[str, Callable[[bytes], str]]] = {
    RUNTIME + "RunPodSandbox": (
        "pods",
        lambda answer: cri.RunPodSandboxResponse.FromString(answer).pod_sandbox_id,
    ),
    RUNTIME + "CreateContainer": (
        "containers",
        lambda answer: cri.CreateContainerResponse.FromString(answer).container_id,
    ),
}
SERVER_STREAMING = {
    f"/{service.full_name}/{method.name}"
    for service in cri.DESCRIPTOR.services_by_name.values()
    for method in service.methods
    if method.server_streaming
}


class FilterIgnoringProxy(grpc.GenericRpcHandler):
    """``with FilterIgnoringProxy(containerd, socket) as proxy:`` serves ``proxy.endpoint``."""

    def __init__(self, upstream: str, socket: Path, failing: frozenset[str] = frozenset()) -> None:
        self.endpoint = f"unix://{socket}"
        self.created: dict[str, list[str]] = {"pods": [], "containers": []}  # through the proxy
        self._shown: set[str] = set()
        self._failing = failing
        self._lock = threading.Lock()
        self._channel = grpc.insecure_channel(upstream)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[self])
        self._server.add_insecure_port(f"unix:{socket}")

    def __enter__(self) -> FilterIgnoringProxy:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop(grace=1).wait()
        self._channel.close()

    def show(self, *object_ids: str) -> None:
        """Let list answers include these objects, created elsewhere."""
        with self._lock:
            self._shown.update(object_ids)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        if method in SERVER_STREAMING:
            return grpc.unary_stream_rpc_method_handler(
                lambda request, context: self._stream(method, request, context)
            )
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self._unary(method, request, context)
        )

    def _unary(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        if method in self._failing:
            context.abort(grpc.StatusCode.INTERNAL, f"{method} fails on purpose (test proxy)")
        listing = LISTS.get(method)
        if listing:
            request = listing.without_filter(request)
        try:
            answer: bytes = self._channel.unary_unary(method)(
                request, timeout=context.time_remaining()
            )
        except grpc.RpcError as error:
            context.abort(error.code(), error.details() or "")  # type: ignore[attr-defined]
        if method in CREATES:
            kind, id_of = CREATES[method]
            with self._lock:
                self.created[kind].append(id_of(answer))
        if listing:
            with self._lock:
                visible = {*self.created["pods"], *self.created["containers"], *self._shown}
            answer = listing.only(answer, visible)
        return answer

    def _stream(
        self, method: str, request: bytes, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        try:
            yield from self._channel.unary_stream(method)(request)
        except grpc.RpcError as error:
            context.abort(error.code(), error.details() or "")  # type: ignore[attr-defined]
