"""What can go wrong between a streaming URL and a finished stream.

``ProtocolUnsupported`` is the one a conformance run records as *unsupported* rather than
*fail*: the runtime plainly declined a protocol (refused the upgrade or the subprotocol),
which is a missing feature, not a broken one.
"""

from __future__ import annotations

from http import HTTPStatus

# Statuses with which streaming servers decline a protocol they do not speak: kubelet's
# httpstream.Handshake answers 403, golang.org/x/net/websocket 403 or 400, others 426/501.
_DECLINED = {
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.METHOD_NOT_ALLOWED,
    HTTPStatus.UPGRADE_REQUIRED,
    HTTPStatus.NOT_IMPLEMENTED,
}


class StreamingError(Exception):
    """A streaming session failed; the message names the URL and what happened."""


class ProtocolUnsupported(StreamingError):
    """The runtime does not offer this streaming protocol (recorded as unsupported)."""

    def __init__(self, protocol: str, reason: str) -> None:
        self.protocol = protocol
        self.reason = reason
        super().__init__(f"the runtime does not offer {protocol}: {reason}")


class StreamNotFound(StreamingError):
    """The streaming server answered 404: the token is unknown, used or expired."""

    def __init__(self, url: str, body: str) -> None:
        self.url = url
        super().__init__(f"{url} answered 404 Not Found: {body.strip()[:200]}")


def refused_upgrade(url: str, protocol: str, status: int, body: str) -> StreamingError:
    """The error for an upgrade answered with ``status`` instead of 101."""
    if status == HTTPStatus.NOT_FOUND:
        return StreamNotFound(url, body)
    if status in _DECLINED:
        text = body.strip()[:200] or HTTPStatus(status).phrase
        return ProtocolUnsupported(protocol, f"upgrade refused with HTTP {status} ({text})")
    return StreamingError(f"{url}: upgrade to {protocol} answered HTTP {status}: {body[:200]}")
