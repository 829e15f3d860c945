"""The remotecommand and portforward subprotocols: names, channels and the exit status.

Shared by the harness's clients and the reference shim's server so both sides agree byte for
byte. The exit status travels on the error stream as kubelet encodes it (v4 and later): a
``metav1.Status`` JSON, ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and a
cause of type ``ExitCode`` whose message is the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from kube_streaming.errors import StreamingError

V4_CHANNEL = "v4.channel.k8s.io"
V5_CHANNEL = "v5.channel.k8s.io"
V1_CHANNEL = "channel.k8s.io"
PORT_FORWARD = "portforward.k8s.io"

STREAM_TYPE = "streamtype"
PORT = "port"
REQUEST_ID = "requestid"

NON_ZERO_EXIT = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


class StreamType(StrEnum):
    """The ``streamType`` header of each SPDY stream."""

    STDIN = "stdin"
    STDOUT = "stdout"
    STDERR = "stderr"
    ERROR = "error"
    RESIZE = "resize"
    DATA = "data"


class Channel(IntEnum):
    """The first byte of every WebSocket message (``channel.k8s.io`` family)."""

    STDIN = 0
    STDOUT = 1
    STDERR = 2
    ERROR = 3
    RESIZE = 4
    CLOSE = 255
    """v5 only: ``[255, channel]`` half-closes ``channel`` (the client's stdin EOF)."""


@dataclass(frozen=True)
class StreamOptions:
    """Which streams a session carries; must match the Exec/Attach request that made the URL."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False

    @classmethod
    def of(cls, request: Any) -> StreamOptions:
        """From a CRI ``ExecRequest`` or ``AttachRequest``."""
        return cls(request.stdin, request.stdout, request.stderr, request.tty)

    @property
    def spdy_streams(self) -> list[StreamType]:
        """The streams a SPDY client opens, error first, as client-go does."""
        wanted = [StreamType.ERROR]
        wanted += [StreamType.STDIN] if self.stdin else []
        wanted += [StreamType.STDOUT] if self.stdout else []
        wanted += [StreamType.STDERR] if self.stderr and not self.tty else []
        wanted += [StreamType.RESIZE] if self.tty else []
        return wanted


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int

    def encode(self) -> bytes:
        return json.dumps({"Width": self.width, "Height": self.height}).encode()

    @classmethod
    def decode(cls, document: dict[str, Any]) -> TerminalSize:
        return cls(int(document["Width"]), int(document["Height"]))


@dataclass(frozen=True)
class ExitStatus:
    """The error stream's verdict: an exit code, or a failure that is not one."""

    exit_code: int | None
    message: str
    document: dict[str, Any]


def success_status() -> bytes:
    return json.dumps({"metadata": {}, "status": "Success"}).encode()


def exit_code_status(code: int, detail: str) -> bytes:
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: {detail}",
            "reason": NON_ZERO_EXIT,
            "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
        }
    ).encode()


def failure_status(message: str) -> bytes:
    """An internal error, as apierrors.NewInternalError encodes it."""
    return json.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"Internal error occurred: {message}",
            "reason": "InternalError",
            "details": {"causes": [{"message": message}]},
            "code": 500,
        }
    ).encode()


def decode_status(raw: bytes) -> ExitStatus:
    """Read the v4 error stream; a missing or malformed status is a protocol violation."""
    if not raw.strip():
        raise StreamingError("the error stream closed without a status (v4 requires one)")
    try:
        document = json.loads(raw)
    except ValueError:
        raise StreamingError(f"the error stream does not hold Status JSON: {raw[:200]!r}") from None
    if not isinstance(document, dict):
        raise StreamingError(f"the error stream holds {type(document).__name__}, not a Status")
    message = str(document.get("message", ""))
    if document.get("status") == "Success":
        return ExitStatus(0, message, document)
    if document.get("status") != "Failure":
        raise StreamingError(f"status {document.get('status')!r} is neither Success nor Failure")
    if document.get("reason") == NON_ZERO_EXIT:
        causes = (document.get("details") or {}).get("causes") or []
        codes = [c.get("message") for c in causes if c.get("reason") == EXIT_CODE_CAUSE]
        if not codes or not str(codes[0]).lstrip("-").isdigit():
            raise StreamingError(f"NonZeroExitCode status without an ExitCode cause: {document}")
        return ExitStatus(int(codes[0]), message, document)
    return ExitStatus(None, message, document)


@dataclass(frozen=True)
class ExecResult:
    """What a finished exec or attach produced."""

    stdout: bytes
    stderr: bytes
    status: ExitStatus

    @property
    def exit_code(self) -> int | None:
        return self.status.exit_code
