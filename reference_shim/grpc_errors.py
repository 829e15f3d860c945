"""Turning the CRI layer's exceptions into gRPC statuses, in one place for every servicer."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import grpc

from reference_shim.errors import ShimError, Unimplemented

log = logging.getLogger("reference_shim.rpc")

Method = TypeVar("Method", bound=Callable[..., Any])


def rpc(method: Method) -> Method:
    """A servicer method whose ShimError becomes its status; anything else is INTERNAL."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        name = method.__name__
        try:
            return method(self, request, context)
        except ShimError as error:
            log.info("%s -> %s: %s", name, error.code.name, error)
            context.abort(error.code, str(error))
        except Exception as error:
            log.exception("%s failed", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name}: {type(error).__name__}: {error}")

    return wrapper  # type: ignore[return-value]


def unimplemented(rpc_name: str, reason: str) -> NoReturn:
    """Refuse an RPC the shim does not offer, saying why (the ``rpc`` wrapper answers it)."""
    raise Unimplemented(f"{rpc_name} is not supported: {reason}")
