"""Host ports relayed in userspace: a listening socket on the host, and a connection (TCP) or a
socket per client (UDP) to where a pod listens, chosen when a client comes.

Used by the shim for its own host ports (``separate-vms``: any of the pod's VMs may be the one
that listens, known only when a client connects, so each TCP connection goes to the first of
the pod's VMs that accepts it: the pod VM, then the containers in VMs of their own, oldest
first; ``reference_shim.cri.context``), and by the microvm backend for the mappings of its pods
(``backends/microvm``), whose VMs sit on a bridge the host reaches. Written by hand: no
library relays to a target chosen per connection. A relay dies with its process, so nothing
of it outlives a killed shim (no rule to clean up), it binds the ``host_ip`` asked for, and it
reaches a VM from loopback with no change to the host's routing (``route_localnet``); the price
is that the pod sees the connection come from the host, not from the client.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

from reference_shim.backends.base import PortSpec
from reference_shim.errors import FailedPrecondition
from reference_shim.streaming.forward import connect_first

log = logging.getLogger(__name__)

Addresses = Callable[[], list[str]]  # where the pod may listen, in the order to try them

_CONNECT_TIMEOUT_S = 2.0
_CHUNK = 65536
_DATAGRAM = 65535
UDP_IDLE_S = 90.0  # a UDP client silent this long is forgotten (Docker's userland proxy: 90 s)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy until ``source`` ends, then half-close ``sink`` so its reader sees the end too."""
    try:
        while chunk := source.recv(_CHUNK):
            sink.sendall(chunk)
    except OSError as error:
        log.debug("host port copy ended: %s", error)
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _bound(mapping: PortSpec, kind: socket.SocketKind) -> socket.socket:
    """The host's side of ``mapping``: bound to its host_ip (every address when empty)."""
    host = mapping.host_ip or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, kind)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        bound.bind((host, mapping.host_port))
        if kind == socket.SOCK_STREAM:
            bound.listen(64)
    except OSError as error:
        bound.close()
        raise FailedPrecondition(
            f"cannot serve host port {host}:{mapping.host_port}/{mapping.protocol} for "
            f"container port {mapping.container_port}: {error.strerror or error}"
        ) from None
    return bound


class TcpRelay:
    """One TCP host port: accepts connections and relays each to the first address that
    takes it on the container port."""

    def __init__(self, mapping: PortSpec, addresses: Addresses) -> None:
        self.mapping = mapping
        self._addresses = addresses
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._socket = _bound(mapping, socket.SOCK_STREAM)
        name = f"host-port-{mapping.host_port}"
        threading.Thread(target=self._accept, name=name, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _dial(self) -> socket.socket | None:
        port = self.mapping.container_port
        try:
            return connect_first(
                self._addresses(),
                lambda address: socket.create_connection((address, port), _CONNECT_TIMEOUT_S),
            )
        except OSError:
            return None

    def _relay(self, client: socket.socket) -> None:
        upstream = self._dial()
        if upstream is None:
            client.close()  # nothing of the pod listens: the client sees the connection end
            return
        upstream.settimeout(None)
        with self._lock:
            self._connections |= {client, upstream}
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        back.join()
        with self._lock:
            self._connections -= {client, upstream}
        client.close()
        upstream.close()

    def close(self) -> None:
        """Stop listening and cut the open connections (as a stopped pod VM would)."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class UdpRelay:
    """One UDP host port: each client (address and port) gets a socket of its own towards the
    first address, so that the pod's replies go back to the client who asked."""

    def __init__(self, mapping: PortSpec, addresses: Addresses, idle: float = UDP_IDLE_S) -> None:
        self.mapping = mapping
        self._addresses = addresses
        self._idle = idle
        self._clients: dict[tuple[str, int], socket.socket] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()  # a socket shut down wakes its reader with no data
        self._socket = _bound(mapping, socket.SOCK_DGRAM)
        name = f"host-port-{mapping.host_port}-udp"
        self._receiver = threading.Thread(target=self._receive, name=name, daemon=True)
        self._receiver.start()

    def _receive(self) -> None:
        while True:
            try:
                datagram, client = self._socket.recvfrom(_DATAGRAM)
            except OSError:
                return
            if self._closed.is_set():
                return
            upstream = self._upstream(client[:2])
            if upstream is not None:
                with contextlib.suppress(OSError):
                    upstream.send(datagram)

    def _upstream(self, client: tuple[str, int]) -> socket.socket | None:
        with self._lock:
            upstream = self._clients.get(client)
        if upstream is not None:
            return upstream
        targets = self._addresses()
        if not targets:
            return None  # the pod has no address: the datagram is dropped, as UDP may be
        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        upstream.connect((targets[0], self.mapping.container_port))
        upstream.settimeout(self._idle)
        with self._lock:
            self._clients[client] = upstream
        threading.Thread(target=self._reply, args=(client, upstream), daemon=True).start()
        return upstream

    def _reply(self, client: tuple[str, int], upstream: socket.socket) -> None:
        """The pod's answers to ``client``, until it has been silent for the idle time."""
        try:
            while not self._closed.is_set():
                datagram = upstream.recv(_DATAGRAM)
                if not self._closed.is_set():
                    self._socket.sendto(datagram, client)
        except OSError as error:  # the idle timeout, or the relay closed
            log.debug("udp relay for %s ended: %s", client, error)
        finally:
            with self._lock:
                self._clients.pop(client, None)
            upstream.close()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):  # ENOTCONN, yet the reader wakes up
            self._socket.shutdown(socket.SHUT_RDWR)
        # The reader's recvfrom holds the socket until it returns: the port is free only then,
        # and whoever closed the pod may bind it again at once.
        self._receiver.join(timeout=5)
        self._socket.close()
        with self._lock:
            upstreams = list(self._clients.values())
        for upstream in upstreams:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)


Relay = TcpRelay | UdpRelay


def relay(mapping: PortSpec, addresses: Addresses) -> Relay:
    if mapping.protocol == "tcp":
        return TcpRelay(mapping, addresses)
    if mapping.protocol == "udp":
        return UdpRelay(mapping, addresses)
    raise ValueError(f"no relay for {mapping.protocol} (host port {mapping.host_port})")


class HostPorts:
    """Host-port relays, by pod: all of a pod's mappings, or none."""

    def __init__(self) -> None:
        self._pods: dict[str, list[Relay]] = {}
        self._lock = threading.Lock()

    def open(self, pod_id: str, mappings: list[PortSpec], addresses: Addresses) -> None:
        """Serve every mapping given (TCP or UDP), or none (the first refusal is raised);
        a pod already served stays as it is."""
        with self._lock:
            if pod_id in self._pods:
                return
        opened: list[Relay] = []
        try:
            opened.extend(relay(mapping, addresses) for mapping in mappings)
        except Exception:
            for listener in opened:
                listener.close()
            raise
        with self._lock:
            self._pods[pod_id] = opened

    def close(self, pod_id: str) -> None:
        with self._lock:
            listeners = self._pods.pop(pod_id, [])
        for listener in listeners:
            listener.close()

    def close_all(self) -> None:
        with self._lock:
            pods = list(self._pods)
        for pod_id in pods:
            self.close(pod_id)
