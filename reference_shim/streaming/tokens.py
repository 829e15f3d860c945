"""Single-use, expiring tokens: the only thing that makes a streaming URL valid.

As in kubelet's request cache: each Exec/Attach/PortForward call stores its request under a
fresh random token for at most a minute; the first request to the URL takes it out, so a
second use, an unknown token and an expired one all look the same (404).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DEFAULT_TTL = 60.0
MAX_IN_FLIGHT = 1000


class Kind(StrEnum):
    """The URL path a token belongs to."""

    EXEC = "exec"
    ATTACH = "attach"
    PORT_FORWARD = "portforward"


@dataclass(frozen=True)
class Pending:
    """A request waiting for its client: what to run and where."""

    kind: Kind
    request: Any
    """The CRI ExecRequest, AttachRequest or PortForwardRequest."""
    target: str
    """The backend VM (exec, attach) or the pod id (port forward)."""
    vm_tty: bool | None = None
    """Attach: whether the container has a terminal (the backend's framing follows it)."""
    addresses: Callable[[], list[str]] | None = None
    """Port forward: the pod's addresses in the order to try them, read at every connection
    (a container that starts later serves its ports too)."""


class TooManyPending(Exception):
    """More unused URLs than the cache holds; the caller answers RESOURCE_EXHAUSTED."""


class RequestCache:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        max_in_flight: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Pending]] = {}

    def insert(self, pending: Pending) -> str:
        with self._lock:
            self._drop_expired()
            if len(self._entries) >= self.max_in_flight:
                raise TooManyPending(
                    f"{len(self._entries)} streaming URLs are waiting for their clients; "
                    "use or let them expire (1 minute) before asking for more"
                )
            token = secrets.token_urlsafe(18)
            self._entries[token] = (self._clock() + self.ttl, pending)
            return token

    def consume(self, token: str, kind: Kind) -> Pending | None:
        """The request behind ``token`` for a URL of ``kind``, once; None means 404.

        A token presented on the wrong path is used up as well, as kubelet does.
        """
        with self._lock:
            entry = self._entries.pop(token, None)
        if entry is None:
            return None
        expires, pending = entry
        if self._clock() >= expires or pending.kind is not kind:
            return None
        return pending

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._entries)

    def _drop_expired(self) -> None:
        now = self._clock()
        for token in [t for t, (expires, _) in self._entries.items() if now >= expires]:
            del self._entries[token]
