"""Forwarded connections: reach the pod where it listens, copy both ways to the client."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

_LINGER_S = 1.0  # after the pod side ends, how long the client may still finish sending


def connect_first(addresses: list[str], connect: Callable[[str], socket.socket]) -> socket.socket:
    """A connection to the first of the pod's addresses that accepts one.

    A pod is one address on most runtimes; under separate-vms each container is a VM of its
    own, so a port the pod serves may be on any of them. Raises the first address's error
    (the pod VM's, the one a single-address pod would give) when none accepts.
    """
    errors: list[OSError] = []
    for address in addresses:
        try:
            return connect(address)
        except OSError as error:
            errors.append(error)
    if not errors:
        raise ConnectionRefusedError("the pod has no address to connect to")
    raise errors[0]


class PodConnections:
    """The pod connections of one port-forward session. When the client leaves, ``cut``
    shuts down those still open: a pod that never closes its side would otherwise keep the
    copy threads, and the sockets, of a session nobody uses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False

    @contextlib.contextmanager
    def opened(self, conn: socket.socket) -> Iterator[socket.socket]:
        """``conn`` for the length of its copy, then closed; cut at once if the session ended."""
        with self._lock:
            self._open.add(conn)
            cut = self._cut
        if cut:
            _shut(conn)
        try:
            yield conn
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            still_open = list(self._open)
        for conn in still_open:
            _shut(conn)


def _shut(conn: socket.socket) -> None:
    """Both directions ended; unlike ``close``, this wakes a thread blocked reading ``conn``."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def splice(
    conn: socket.socket,
    read_client: Callable[[], bytes],
    write_client: Callable[[bytes], None],
    end_client: Callable[[], None],
) -> None:
    """Until the pod closes its side: client bytes to the pod (its EOF half-closes the pod
    socket), pod bytes to the client (then ``end_client`` tells the client it ended)."""

    def client_to_pod() -> None:
        try:
            while chunk := read_client():
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
        except OSError as error:
            log.debug("client to pod copy ended: %s", error)

    upstream = threading.Thread(target=client_to_pod, name="forward-up", daemon=True)
    upstream.start()
    try:
        while chunk := conn.recv(65536):
            write_client(chunk)
    except OSError as error:
        log.debug("pod to client copy ended: %s", error)
    finally:
        with contextlib.suppress(OSError):
            end_client()
        upstream.join(_LINGER_S)
        conn.close()
