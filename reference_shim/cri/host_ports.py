"""Host ports the shim serves itself, for pods whose containers are in several VMs.

A CRI port mapping belongs to the pod, not to a container. When every container of a pod is in
the pod VM's network, the backend publishes the port on the pod VM (Docker's port bindings).
Under ``separate-vms`` any of the pod's VMs may serve the port, and which one is known only when
a client connects, so the shim listens on the host port itself and hands each TCP connection to
the first of the pod's VMs that accepts it on the container port: the pod VM (the container in
it), then the containers in VMs of their own, oldest first. Written by hand: no library forwards
to a target chosen per connection. UDP and SCTP mappings stay with the backend (the pod VM).
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

Addresses = Callable[[], list[str]]  # the pod's VM addresses, in the order to try them

_CONNECT_TIMEOUT_S = 2.0
_CHUNK = 65536


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


class _Listener:
    """One host port: accepts connections and relays each to the first VM that takes it."""

    def __init__(self, mapping: PortSpec, addresses: Addresses) -> None:
        self.mapping = mapping
        self._addresses = addresses
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        host = mapping.host_ip or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, mapping.host_port))
            self._socket.listen(64)
        except OSError as error:
            self._socket.close()
            raise FailedPrecondition(
                f"cannot serve host port {host}:{mapping.host_port}/tcp for container port "
                f"{mapping.container_port}: {error.strerror or error}"
            ) from None
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


class HostPorts:
    """The shim's host-port listeners, by pod."""

    def __init__(self) -> None:
        self._pods: dict[str, list[_Listener]] = {}
        self._lock = threading.Lock()

    def open(self, pod_id: str, mappings: list[PortSpec], addresses: Addresses) -> None:
        """Listen on every (TCP) mapping given, or on none (the first refusal is raised);
        a pod already served stays as it is."""
        with self._lock:
            if pod_id in self._pods:
                return
        opened: list[_Listener] = []
        try:
            opened.extend(_Listener(mapping, addresses) for mapping in mappings)
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
