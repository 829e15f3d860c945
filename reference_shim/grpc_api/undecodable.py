"""Requests that do not decode: INVALID_ARGUMENT and one WARNING line, not a traceback.

grpcio decodes a request before any servicer sees it. When the bytes are not the method's
request message it logs the decoder's traceback at ERROR and answers INTERNAL ("Exception
deserializing request!"): garbage from a client would read as the shim's own fault, and a
stream of it would bury the shim's real errors. This interceptor gives each method a decoder
that turns such bytes into an ``Undecodable``, which is answered INVALID_ARGUMENT with one
WARNING line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

log = logging.getLogger("reference_shim.rpc")

Continuation = Callable[[grpc.HandlerCallDetails], "grpc.RpcMethodHandler[Any, Any] | None"]


@dataclass(frozen=True)
class Undecodable:
    """What arrived instead of a request: its size and why it does not decode."""

    size: int
    reason: str


def _tolerant(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode_or_keep(data: bytes) -> Any:
        try:
            return decode(data)
        except Exception as error:  # whatever the decoder raises, the bytes are the client's
            return Undecodable(len(data), f"{type(error).__name__}: {error}")

    return decode_or_keep


def _refusing(method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
    def answer(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            log.warning(
                "%s: a request of %d bytes does not decode (%s)",
                method,
                request.size,
                request.reason,
            )
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request does not decode as the request message of {method}: {request.reason}",
            )
        return behaviour(request, context)

    return answer


class UndecodableRequests(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps every unary-request method (all of CRI's) as the module docstring says."""

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler: Any = continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler  # type: ignore[no-any-return]
        method = handler_call_details.method.rsplit("/", 1)[-1]
        kind = "unary_stream" if handler.response_streaming else "unary_unary"
        replaced = handler._replace(
            request_deserializer=_tolerant(handler.request_deserializer),
            **{kind: _refusing(method, getattr(handler, kind))},
        )
        return replaced  # type: ignore[no-any-return]
