"""Turning the CRI layer's exceptions into gRPC statuses, in one place for every servicer."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from reference_shim.cri.enums import require_known_enums
from reference_shim.errors import ShimError

log = logging.getLogger("reference_shim.rpc")

Method = TypeVar("Method", bound=Callable[..., Any])

# A status message travels in a header, and clients refuse headers beyond 16 KiB (grpcio's hard
# limit): a refusal that quotes a huge value must not turn into RESOURCE_EXHAUSTED on the way.
MAX_MESSAGE = 4096


def clipped(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}... ({len(message) - MAX_MESSAGE} more characters)"


def rpc(method: Method) -> Method:
    """A servicer method whose ShimError becomes its status; anything else is INTERNAL."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        name = method.__name__
        try:
            require_known_enums(request)
            return method(self, request, context)
        except ShimError as error:
            message = clipped(str(error))
            log.info("%s -> %s: %s", name, error.code.name, message)
            context.abort(error.code, message)
        except Exception as error:
            log.exception("%s failed", name)
            context.abort(
                grpc.StatusCode.INTERNAL, clipped(f"{name}: {type(error).__name__}: {error}")
            )

    return wrapper  # type: ignore[return-value]
