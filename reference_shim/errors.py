"""Errors that carry their gRPC status code.

The CRI layer raises these; the servicers turn them into a gRPC status with the message, so
every refusal reaches the client as a code plus a sentence saying what to fix.
"""

from __future__ import annotations

from typing import NoReturn

import grpc


class ShimError(Exception):
    """A refusal or failure with the gRPC status code the client should see."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN


class InvalidArgument(ShimError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ShimError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ShimError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ShimError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unimplemented(ShimError):
    code = grpc.StatusCode.UNIMPLEMENTED


def unimplemented(rpc_name: str, reason: str) -> NoReturn:
    """Refuse an RPC the shim does not offer, saying why (the servicers answer UNIMPLEMENTED)."""
    raise Unimplemented(f"{rpc_name} is not supported: {reason}")


class ResourceExhausted(ShimError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceeded(ShimError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class CommandNotStarted(ShimError):
    """ExecSync's command could not be started (no such binary, not executable): UNKNOWN with
    the OCI runtime's reason, as containerd answers, never an exit code that looks like the
    command's own."""

    code = grpc.StatusCode.UNKNOWN


class BackendError(ShimError):
    """The VM backend failed at something it should have been able to do."""

    code = grpc.StatusCode.INTERNAL


class BackendUnavailable(ShimError):
    """The VM backend (e.g. Docker Engine) does not answer."""

    code = grpc.StatusCode.UNAVAILABLE
