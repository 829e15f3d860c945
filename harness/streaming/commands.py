"""What every exec/attach session offers, whatever protocol carries it."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from harness.streaming.collect import Collector
from kube_streaming.errors import StreamingError
from kube_streaming.remotecommand import ExecResult, StreamOptions, StreamType, decode_status


class RemoteCommand(ABC):
    """A running exec or attach: feed stdin, resize the terminal, then ``wait`` for the end.

    Output is gathered in the background from the start; ``output(kind).wait_for(...)``
    watches it while the command runs.
    """

    def __init__(self, options: StreamOptions, timeout: float) -> None:
        self.options = options
        self.timeout = timeout
        self._collectors: dict[StreamType, Collector] = {}

    @abstractmethod
    def write_stdin(self, data: bytes) -> None: ...

    @abstractmethod
    def close_stdin(self) -> None:
        """Signal end of input (the command reads EOF)."""

    @abstractmethod
    def resize(self, width: int, height: int) -> None: ...

    @property
    def can_close_stdin(self) -> bool:
        return True

    def communicate(self, stdin: bytes, timeout: float | None = None) -> ExecResult:
        """Send ``stdin``, end it where the protocol can (not v4 WebSocket), then ``wait``."""
        self.write_stdin(stdin)
        if self.can_close_stdin:
            self.close_stdin()
        return self.wait(timeout)

    @abstractmethod
    def close(self) -> None: ...

    def output(self, kind: StreamType) -> Collector:
        if kind not in self._collectors:
            raise StreamingError(f"this session does not carry {kind.value}")
        return self._collectors[kind]

    def wait(self, timeout: float | None = None) -> ExecResult:
        """The output and exit status, once the runtime ended the session."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        outputs = {kind: c.result(deadline) for kind, c in self._collectors.items()}
        return ExecResult(
            outputs.get(StreamType.STDOUT, b""),
            outputs.get(StreamType.STDERR, b""),
            decode_status(outputs[StreamType.ERROR]),
        )

    def __enter__(self) -> RemoteCommand:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class PortConnection(ABC):
    """One TCP connection forwarded into the pod."""

    @abstractmethod
    def send(self, payload: bytes) -> None: ...

    @abstractmethod
    def read_until_closed(self, timeout: float | None = None) -> bytes:
        """What the pod's side sent, up to the point it closed the connection."""

    @abstractmethod
    def error_text(self) -> str:
        """What the runtime reported on the error stream (empty when all went well)."""


class PortForward(ABC):
    """A port-forward session into one pod."""

    @abstractmethod
    def connect(self, port: int) -> PortConnection: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
