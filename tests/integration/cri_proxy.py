"""A gRPC server that serves both CRI services by passing each call on to another runtime.

The test runtimes build on it (``FilterIgnoringProxy``, ``BrokenRuntime``): each overrides
``answer`` for the unary calls it changes and lets ``forward`` carry the rest as raw bytes, so
they need no knowledge of messages they do not touch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed, CriClient

RUNTIME = "/runtime.v1.RuntimeService/"
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


if TYPE_CHECKING:  # grpc-stubs makes the class generic; grpcio's own is not subscriptable
    _BytesHandler = grpc.GenericRpcHandler[bytes, bytes]
else:
    _BytesHandler = grpc.GenericRpcHandler


class CriProxy(_BytesHandler):
    """``with Subclass(...) as proxy:`` serves ``address`` (a grpc address) until the end."""

    def __init__(self, upstream: str | None, address: str) -> None:
        self._channel = grpc.insecure_channel(upstream) if upstream else None
        self.created: dict[str, list[str]] = {"pods": [], "containers": []}  # on the upstream
        self._lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[self])
        self.port = self._server.add_insecure_port(address)

    def __enter__(self) -> CriProxy:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop(grace=1).wait()
        if self._channel:
            self._channel.close()

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes]:
        method = handler_call_details.method
        if method in SERVER_STREAMING:
            return grpc.unary_stream_rpc_method_handler(
                lambda request, context: self._stream(method, request, context)
            )
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self.answer(method, request, context)
        )

    def answer(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        """The answer to one unary call; by default, the upstream's."""
        return self.forward(method, request, context)

    def forward(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        """The upstream's answer, or its error passed on as it came; records what it created."""
        if self._channel is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method}: this test runtime has none")
        try:
            answer: bytes = self._channel.unary_unary(
                method, request_serializer=None, response_deserializer=None
            )(request, timeout=context.time_remaining())
        except grpc.RpcError as error:
            context.abort(error.code(), error.details() or "")
        if method in CREATES:
            kind, id_of = CREATES[method]
            with self._lock:
                self.created[kind].append(id_of(answer))
        return answer

    def _stream(
        self, method: str, request: bytes, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        if self._channel is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method}: this test runtime has none")
        try:
            yield from self._channel.unary_stream(
                method, request_serializer=None, response_deserializer=None
            )(request)
        except grpc.RpcError as error:
            context.abort(error.code(), error.details() or "")


def exists(status: Callable[[str], object], object_id: str) -> bool:
    try:
        status(object_id)
    except CallFailed as error:
        if error.code is grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


def left_on(upstream: CriClient, proxy: CriProxy) -> list[str]:
    """The pods and containers made through ``proxy`` that ``upstream`` still has."""
    pods, containers = proxy.created["pods"], proxy.created["containers"]
    left = [pod for pod in pods if exists(upstream.pod_status, pod)]
    return left + [c for c in containers if exists(upstream.container_status, c)]
