"""Assertions that read as the CRI spec: ``with refused(NOT_FOUND): cri.pod_status(...)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import grpc

from harness.client import CallFailed

T = TypeVar("T")


class Refusal:
    """Filled in when the expected error arrives, for further checks on its details."""

    error: CallFailed | None = None


@contextmanager
def refused(*codes: grpc.StatusCode) -> Iterator[Refusal]:
    """The block must fail with a CRI error; with ``codes``, with one of those codes."""
    refusal = Refusal()
    try:
        yield refusal
    except CallFailed as error:
        refusal.error = error
        if error.code is grpc.StatusCode.UNIMPLEMENTED and error.code not in codes:
            raise  # the runtime lacks the call; outcomes.judge decides what that excuses
        if codes and error.code not in codes:
            expected = " or ".join(code.name for code in codes)
            raise AssertionError(
                f"{error.rpc} was refused with {error.code.name}, expected {expected}: "
                f"{error.details}"
            ) from error
        return
    expected = " or ".join(code.name for code in codes) if codes else "an error"
    raise AssertionError(f"the call succeeded, expected it to be refused with {expected}")


def answer_or_refusal(call: Callable[[], T]) -> T | CallFailed:
    """What a call the CRI lets go either way gave: its answer, or the error it was refused with.

    UNIMPLEMENTED still propagates: a runtime that lacks the call gets an unsupported cell, not a
    pass for "it refused".
    """
    try:
        return call()
    except CallFailed as error:
        if error.code is grpc.StatusCode.UNIMPLEMENTED:
            raise
        return error
