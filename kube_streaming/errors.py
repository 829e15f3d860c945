"""What can go wrong between a streaming URL and a finished stream.

``ProtocolUnsupported`` is the one a conformance run may record as *unsupported* rather than
*fail*, and only for a negotiated refusal: the server answered 403 or 426 without choosing a
protocol (what the kubelet's own streaming library does when it shares none with the client),
or upgraded choosing none of the offered subprotocols. A malformed handshake, another status,
or a subprotocol the client never offered is a broken server: a plain ``StreamingError``.
"""

from __future__ import annotations

from http import HTTPStatus

# Statuses of a negotiated refusal: the kubelet's httpstream.Handshake (SPDY) and wsstream's
# handshake through golang.org/x/net/websocket answer 403 when no protocol is shared; 426
# (Upgrade Required) is HTTP's own word for it.
_DECLINED = {HTTPStatus.FORBIDDEN, HTTPStatus.UPGRADE_REQUIRED}


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


def unanswered(url: str, what: str, seconds: float, error: OSError) -> StreamingError:
    """The error for a streaming server that did not answer ``what`` in time, or broke off."""
    if isinstance(error, TimeoutError):
        return StreamingError(
            f"the streaming server at {url} did not answer the {what} within {seconds:g} s"
        )
    return StreamingError(f"the streaming server at {url} failed the {what}: {error}")


def refused_upgrade(
    url: str, protocol: str, status: int, body: str, chosen: str | None = None
) -> StreamingError:
    """The error for an upgrade answered with ``status`` instead of 101.

    ``chosen`` is the protocol the response names, if any: a refusal that names one is no
    negotiated refusal.
    """
    if status == HTTPStatus.NOT_FOUND:
        return StreamNotFound(url, body)
    if status in _DECLINED and not chosen:
        text = body.strip()[:200] or HTTPStatus(status).phrase
        return ProtocolUnsupported(protocol, f"upgrade refused with HTTP {status} ({text})")
    return StreamingError(f"{url}: upgrade to {protocol} answered HTTP {status}: {body[:200]}")
