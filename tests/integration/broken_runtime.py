"""A CRI runtime that hangs, hangs up or answers garbage on the RPCs it is told to (tests only).

``BrokenRuntime(faults, socket, upstream)`` serves both CRI services at ``socket``. A call named
in ``faults`` meets its fault; every other call goes on to ``upstream`` (containerd), or, with
none, gets the runtime's own minimal answer: a fixed Version and an empty response of the
call's type (no pods, no containers, no images).

Faults:

- ``HANG``: never answer; the caller's deadline ends the call.
- ``HANG_UP``: close the caller's connection mid-call. gRPC gives no handler a way to do that,
  so the server listens on loopback TCP behind a relay on the socket; the call's peer address
  names the relay connection to cut.
- ``GARBAGE``: bytes that do not decode as the call's response message.
- ``WRONG_TYPES``: a well-formed message whose every field has the wrong wire type (a string
  sent as a number, a number as bytes); protobuf keeps such fields as unknown ones, so the
  answer decodes with every field empty.
- ``SILENT_STREAM`` (Exec, Attach, PortForward): a streaming URL on a loopback listener that
  never accepts, so the client's connection opens and then hears nothing.

``Fault(kind, upstream_first=True)`` lets the upstream do the work first: its answer is lost,
as when a runtime made the pod but hung before saying so.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_proxy import CriProxy
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message


class Kind(Enum):
    HANG = "hang"
    HANG_UP = "hang up"
    GARBAGE = "garbage"
    WRONG_TYPES = "wrong types"
    SILENT_STREAM = "silent stream"


HANG, HANG_UP, GARBAGE, WRONG_TYPES, SILENT_STREAM = Kind


@dataclass(frozen=True)
class Fault:
    kind: Kind
    upstream_first: bool = False


STREAMING_URL_CALLS = {"Exec", "Attach", "PortForward"}
VERSION = cri.VersionResponse(
    version="0.1.0",
    runtime_name="broken-runtime",
    runtime_version="0.0.1",
    runtime_api_version="v1",
)
# A field tag with field number 0, then a varint that never ends: no message decodes from it.
UNDECODABLE = b"\x00\xff\xff\xff\xff"


def _responses() -> dict[str, tuple[str, type[Message]]]:
    """Each unary call's short name: its full method path and its response class."""
    return {
        method.name: (f"/{service.full_name}/{method.name}", getattr(cri, method.output_type.name))
        for service in cri.DESCRIPTOR.services_by_name.values()
        for method in service.methods
        if not method.server_streaming
    }


RESPONSES = _responses()
_LENGTH_DELIMITED = {
    FieldDescriptor.TYPE_STRING,
    FieldDescriptor.TYPE_BYTES,
    FieldDescriptor.TYPE_MESSAGE,
}
_FIXED64 = {
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_DOUBLE,
}
_FIXED32 = {FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_FLOAT}
# A payload of each wire type: varint, 64-bit, length-delimited, 32-bit.
_PAYLOADS = {0: b"\x01", 1: b"\x00" * 8, 2: b"\x01x", 5: b"\x00" * 4}


class _Field(Protocol):
    """What ``_wire_types`` reads of a field descriptor: types-protobuf types a message's
    DESCRIPTOR as the Python or the upb descriptor class, and both have these."""

    @property
    def type(self) -> int: ...

    @property
    def is_repeated(self) -> bool: ...


def _wire_types(field: _Field) -> set[int]:
    """The wire types a parser accepts for ``field`` (a repeated scalar also packed)."""
    if field.type in _LENGTH_DELIMITED:
        return {2}
    accepted = {1} if field.type in _FIXED64 else {5} if field.type in _FIXED32 else {0}
    if field.is_repeated:
        accepted.add(2)
    return accepted


def wrongly_typed(response: type[Message]) -> bytes:
    """Every field of ``response`` once, each with a wire type its parser does not accept."""
    encoded = b""
    for field in response.DESCRIPTOR.fields:
        wire = next(w for w in (0, 5, 1, 2) if w not in _wire_types(field))
        encoded += _varint(field.number << 3 | wire) + _PAYLOADS[wire]
    return encoded


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class HangUpRelay:
    """Carries each connection made to ``socket`` to a server on loopback TCP, byte for byte,
    and cuts the one whose server-side peer address it is asked to."""

    def __init__(self, socket_path: Path, server_port: int) -> None:
        self._server_port = server_port
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(socket_path))
        self._listener.listen(16)
        self._pairs: dict[int, tuple[socket.socket, socket.socket]] = {}  # by local TCP port
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self._server_port))
            with self._lock:
                self._pairs[server.getsockname()[1]] = (client, server)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def hang_up(self, peer: str) -> None:
        """Cut the relayed connection that reaches the server from ``peer`` (ipv4:HOST:PORT)."""
        port = int(peer.rsplit(":", 1)[1])
        with self._lock:
            pair = self._pairs.pop(port, ())
        for end in pair:
            _close(end)

    def close(self) -> None:
        _close(self._listener)
        with self._lock:
            pairs, self._pairs = list(self._pairs.values()), {}
        for pair in pairs:
            for end in pair:
                _close(end)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    _close(source)
    _close(sink)


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()


class BrokenRuntime(CriProxy):
    """``with BrokenRuntime({"RunPodSandbox": Fault(HANG)}, socket) as runtime:`` serves
    ``runtime.endpoint``; ``runtime.faulted`` counts the calls that met their fault."""

    def __init__(
        self, faults: dict[str, Fault], socket_path: Path, upstream: str | None = None
    ) -> None:
        unknown = set(faults) - set(RESPONSES)
        if unknown:
            raise ValueError(f"no unary CRI call named {sorted(unknown)}")
        urlless = {n for n, f in faults.items() if f.kind is SILENT_STREAM} - STREAMING_URL_CALLS
        if urlless:
            raise ValueError(f"{sorted(urlless)} return no streaming URL")
        super().__init__(upstream, "127.0.0.1:0")
        self.endpoint = f"unix://{socket_path}"
        self._faults = {RESPONSES[name][0]: (name, fault) for name, fault in faults.items()}
        self.faulted: dict[str, int] = dict.fromkeys(faults, 0)
        self._relay = HangUpRelay(socket_path, self.port)
        self._silent = _socket_that_never_accepts()
        self._stopping = threading.Event()

    def __enter__(self) -> BrokenRuntime:
        super().__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._relay.close()
        self._silent.close()
        super().__exit__(*exc_info)

    @property
    def silent_url(self) -> str:
        return f"http://127.0.0.1:{self._silent.getsockname()[1]}/never-answers"

    def answer(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        if method not in self._faults:
            return self._plain(method, request, context)
        name, fault = self._faults[method]
        with self._lock:
            self.faulted[name] += 1
        if fault.upstream_first and self._channel is not None:
            self.forward(method, request, context)
        response = RESPONSES[name][1]
        match fault.kind:
            case Kind.HANG:
                self._wait_for_the_end(context)
            case Kind.HANG_UP:
                self._relay.hang_up(context.peer())
                self._wait_for_the_end(context)
            case Kind.GARBAGE:
                return UNDECODABLE
            case Kind.WRONG_TYPES:
                return wrongly_typed(response)
            case Kind.SILENT_STREAM:
                return response(url=self.silent_url).SerializeToString()
        context.abort(grpc.StatusCode.CANCELLED, f"{name}: nobody waits for this answer")

    def _plain(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        if self._channel is not None:
            return self.forward(method, request, context)
        if method.endswith("/Version"):
            return VERSION.SerializeToString()
        name = method.rsplit("/", 1)[1]
        return RESPONSES[name][1]().SerializeToString()

    def _wait_for_the_end(self, context: grpc.ServicerContext) -> None:
        """Until the caller gives up (its deadline, or the cut connection) or the server stops."""
        ended = threading.Event()
        context.add_callback(ended.set)
        while not ended.wait(0.1) and not self._stopping.is_set():
            pass


def _socket_that_never_accepts() -> socket.socket:
    """A loopback listener: the kernel completes each connection, and nobody ever reads it."""
    return socket.create_server(("127.0.0.1", 0), backlog=64)
