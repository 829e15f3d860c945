"""The shim's streaming server: the URLs Exec, Attach and PortForward return, and what they serve.

Loopback only. Each URL is ``/<exec|attach|portforward>/<token>`` with a single-use token that
expires after a minute. One port serves both protocol families: a WebSocket upgrade goes to the
``websockets`` library (its accept loop runs the server), a SPDY/3.1 upgrade is served here.
"""

from __future__ import annotations

import logging
import socket
import threading
import weakref
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from kube_streaming.remotecommand import PORT_FORWARD, StreamOptions, failure_status
from reference_shim.config import STREAMING_STALL_TIMEOUT_S
from reference_shim.streaming import spdy_server, websocket_server
from reference_shim.streaming.backend import StreamingBackend
from reference_shim.streaming.command import CommandStreams, serve_command
from reference_shim.streaming.forward import connect_first
from reference_shim.streaming.http import RequestHead, limit_stalled_sends, peek_head, respond
from reference_shim.streaming.tokens import DEFAULT_TTL, Kind, Pending, RequestCache

log = logging.getLogger(__name__)

_HEAD_TIMEOUT_S = 10.0
_STREAM_CREATION_TIMEOUT_S = 30.0
_DIAL_TIMEOUT_S = 10.0


def route(path: str) -> tuple[Kind, str] | None:
    """``/exec/<token>`` to (EXEC, token); None for any other path."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not parts[1]:
        return None
    try:
        return Kind(parts[0]), parts[1]
    except ValueError:
        return None


class StreamingServer:
    def __init__(
        self,
        backend: StreamingBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        ttl: float = DEFAULT_TTL,
        stall_timeout: float = STREAMING_STALL_TIMEOUT_S,
    ) -> None:
        """``stall_timeout``: how long a client may take none of the output waiting for it
        before it is dropped (and its exec ended)."""
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"the streaming server listens on loopback only, not {host!r}")
        self.backend = backend
        self.stall_timeout = stall_timeout
        self.cache = RequestCache(ttl=ttl)
        self._listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._ws_pending: weakref.WeakKeyDictionary[ServerConnection, Pending] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._server: Server = serve(
            self._serve_websocket,
            sock=self._listener,
            process_request=self._check_websocket,
            select_subprotocol=self._select_subprotocol,
            compression=None,
            ping_interval=None,
            max_size=websocket_server.MAX_MESSAGE,
            max_queue=websocket_server.LIBRARY_FRAMES,
        )
        websocket_connection = self._server.handler
        self._server.handler = lambda sock, addr: self._connection(sock, addr, websocket_connection)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="streaming-server", daemon=True
        )

    def start(self) -> StreamingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    @property
    def base_url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    # -- URLs -----------------------------------------------------------------------------

    def url(
        self,
        kind: Kind,
        request: Any,
        target: str,
        vm_tty: bool | None = None,
        addresses: Callable[[], list[str]] | None = None,
    ) -> str:
        """Store the request under a new token; raises ``TooManyPending``."""
        token = self.cache.insert(Pending(kind, request, target, vm_tty, addresses))
        return f"{self.base_url}/{kind.value}/{token}"

    # -- dispatch -------------------------------------------------------------------------

    def _connection(self, sock: socket.socket, addr: Any, websocket: Any) -> None:
        """One accepted connection: WebSocket to the library, the rest served here."""
        limit_stalled_sends(sock, self.stall_timeout)
        head = peek_head(sock, _HEAD_TIMEOUT_S)
        if head is not None and head.is_websocket:
            websocket(sock, addr)  # the library's own per-connection handler
            return
        try:
            if head is not None:
                self._serve_http(sock, head)
        except OSError as error:
            log.debug("streaming connection ended: %s", error)
        finally:
            sock.close()
            with self._server.lock:
                self._server.handler_threads.discard(threading.current_thread())

    def _serve_http(self, sock: socket.socket, head: RequestHead) -> None:
        pending = self._consume(head.path)
        if pending is None:
            respond(sock, HTTPStatus.NOT_FOUND)
            return
        if not head.is_spdy:
            message = "unable to upgrade: missing upgrade headers in request"
            respond(sock, HTTPStatus.BAD_REQUEST, f"{message}: {head.method} {head.path}\n")
            return
        if pending.kind is Kind.PORT_FORWARD:
            if spdy_server.handshake(sock, head, (PORT_FORWARD,)):
                allowed = set(pending.request.port)
                spdy_server.serve_port_forward(
                    sock, allowed, self._dialer(pending), self.stall_timeout
                )
            return
        protocol = spdy_server.handshake(sock, head, spdy_server.REMOTECOMMAND_PROTOCOLS)
        if protocol is None:
            return
        options = StreamOptions.of(pending.request)
        streams = spdy_server.accept_command(
            sock, protocol, options, _STREAM_CREATION_TIMEOUT_S, self.stall_timeout
        )
        if streams is not None:
            self._run_command(pending, streams, options)

    def _run_command(
        self, pending: Pending, streams: CommandStreams, options: StreamOptions
    ) -> None:
        request = pending.request
        argv = list(request.cmd) if pending.kind is Kind.EXEC else []
        description = str(argv) if argv else f"attach to {request.container_id}"
        try:
            if pending.kind is Kind.EXEC:
                process = self.backend.exec(
                    pending.target, argv, stdin=options.stdin, tty=options.tty
                )
            else:
                tty = options.tty if pending.vm_tty is None else pending.vm_tty
                process = self.backend.attach(pending.target, stdin=options.stdin, tty=tty)
        except Exception as error:  # the client hears it on the error stream, as from kubelet
            log.warning("%s could not start: %s", description, error)
            streams.finish(failure_status(f"error executing {description}: {error}"))
            return
        serve_command(process, streams, options, description)

    def _consume(self, path: str) -> Pending | None:
        routed = route(path)
        return None if routed is None else self.cache.consume(routed[1], routed[0])

    def _dialer(self, pending: Pending) -> Callable[[int], socket.socket]:
        addresses = pending.addresses or (lambda: [pending.target])

        def dial(port: int) -> socket.socket:
            return connect_first(
                addresses(), lambda address: self.backend.dial(address, port, _DIAL_TIMEOUT_S)
            )

        return dial

    # -- WebSocket ------------------------------------------------------------------------

    def _check_websocket(self, connection: ServerConnection, request: Request) -> Response | None:
        """Before the handshake: the token (404), then the subprotocol (403), as kubelet."""
        pending = self._consume(request.path.split("?", 1)[0])
        if pending is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "404 page not found\n")
        offered = _offered(request.headers)
        if offered and websocket_server.choose(offered, _ws_protocols(pending.kind)) is None:
            return connection.respond(
                HTTPStatus.FORBIDDEN, f"requested protocol(s) are not supported: {offered}\n"
            )
        with self._lock:
            self._ws_pending[connection] = pending
        return None

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Subprotocol | None:
        with self._lock:
            pending = self._ws_pending.get(connection)
        if pending is None:
            return None
        chosen = websocket_server.choose(list(offered), _ws_protocols(pending.kind))
        return Subprotocol(chosen) if chosen else None

    def _serve_websocket(self, connection: ServerConnection) -> None:
        with self._lock:
            pending = self._ws_pending.pop(connection)
        if pending.kind is Kind.PORT_FORWARD:
            websocket_server.serve_port_forward(
                connection, list(pending.request.port), self._dialer(pending)
            )
            return
        options = StreamOptions.of(pending.request)
        streams = websocket_server.WebSocketCommandStreams(connection, options)
        self._run_command(pending, streams, options)


def _offered(headers: Headers) -> list[str]:
    return [
        part.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for part in value.split(",")
        if part.strip()
    ]


def _ws_protocols(kind: Kind) -> tuple[str, ...]:
    if kind is Kind.PORT_FORWARD:
        return websocket_server.PORT_FORWARD_PROTOCOLS
    return websocket_server.REMOTECOMMAND_PROTOCOLS
