"""The streaming RPCs (Exec, Attach, PortForward): a checked request gets a URL on the streaming
server (``reference_shim.streaming``); this is the shim's ``StreamingProvider``.

Validation follows kubelet's streaming server (and containerd's): the checks a URL's user could
not fix later are refused here with INVALID_ARGUMENT, before any token is issued; what the
backend cannot do at all (Apple's attach to stdin) with UNIMPLEMENTED and the reason.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

from cri_api.v1 import api_pb2 as cri

from reference_shim.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    unimplemented,
)
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.streaming.server import StreamingServer
from reference_shim.streaming.tokens import Kind, TooManyPending


def _check_streams(rpc: str, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> None:
    if tty and stderr:
        raise InvalidArgument(f"{rpc}: tty and stderr cannot both be true (a terminal merges them)")
    if not (stdin or stdout or stderr):
        raise InvalidArgument(f"{rpc}: one of stdin, stdout and stderr must be set")


PodAddresses = Callable[[str], list[str]]
"""A pod id to the addresses it may listen on, in the order to try them."""


class StreamingService:
    def __init__(self, server: StreamingServer, pod_addresses: PodAddresses) -> None:
        self.server = server
        self.pod_addresses = pod_addresses

    @staticmethod
    @contextlib.contextmanager
    def _issuing() -> Iterator[None]:
        """A URL the server cannot hold is RESOURCE_EXHAUSTED: the client may retry later."""
        try:
            yield
        except TooManyPending as error:
            raise ResourceExhausted(str(error)) from None

    def exec(self, request: cri.ExecRequest, container: ContainerRecord) -> cri.ExecResponse:
        if not request.cmd:
            raise InvalidArgument("Exec: cmd is empty; give the command to run")
        _check_streams("Exec", request.stdin, request.stdout, request.stderr, request.tty)
        with self._issuing():
            return cri.ExecResponse(url=self.server.url(Kind.EXEC, request, container.vm_id))

    def attach(self, request: cri.AttachRequest, container: ContainerRecord) -> cri.AttachResponse:
        _check_streams("Attach", request.stdin, request.stdout, request.stderr, request.tty)
        refusal = self.server.backend.attach_refusal(request.stdin)
        if refusal:
            unimplemented("Attach with stdin" if request.stdin else "Attach", refusal)
        # The backend frames output by the container's terminal setting, as containerd does;
        # stdin sent to a container created without it goes nowhere.
        with self._issuing():
            url = self.server.url(Kind.ATTACH, request, container.vm_id, container.config.tty)
        return cri.AttachResponse(url=url)

    def port_forward(
        self, request: cri.PortForwardRequest, pod: PodRecord
    ) -> cri.PortForwardResponse:
        if pod.state != cri.SANDBOX_READY or not pod.ip:
            raise FailedPrecondition(
                f"PortForward: pod {pod.name} is not ready (no address to forward to)"
            )
        bad = [port for port in request.port if not 0 < port < 65536]
        if bad:
            raise InvalidArgument(f"PortForward: ports {bad} are outside 1..65535")
        addresses = functools.partial(self.pod_addresses, pod.id)
        with self._issuing():
            url = self.server.url(Kind.PORT_FORWARD, request, pod.id, addresses=addresses)
        return cri.PortForwardResponse(url=url)
