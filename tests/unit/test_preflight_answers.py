"""Which PullImage answers stop the run at the preflight, and which are left to the tests."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import grpc
import pytest

from harness.client import BadAnswer, CallFailed, CriClient, CriError, NoAnswer
from harness.images.catalog import TestImage
from harness.images.preflight import PreflightFailed, check_pull

NOBODY_LISTENS = "127.0.0.1:9"  # the discard port: no registry answers there
IMAGE = cast(
    TestImage,
    SimpleNamespace(ref=f"{NOBODY_LISTENS}/cri-conformance/busybox:1.0", registry=NOBODY_LISTENS),
)


class RuntimeThatCannotPull:
    """A CRI client stand-in whose PullImage raises the given error."""

    def __init__(self, error: CriError) -> None:
        self.error = error
        self.endpoints = SimpleNamespace(runtime="unix:///run/x.sock")

    def pull_image(self, ref: str) -> str:
        raise self.error


def check(error: CriError) -> None:
    check_pull(cast(CriClient, RuntimeThatCannotPull(error)), IMAGE, "containerd")


def test_a_refused_pull_stops_the_run_naming_registry_answer_and_fix() -> None:
    with pytest.raises(PreflightFailed) as stopped:
        check(CallFailed("PullImage", grpc.StatusCode.UNKNOWN, "http: server gave HTTP response"))
    message = str(stopped.value)
    assert NOBODY_LISTENS in message
    assert "server gave HTTP response" in message
    assert f"Nothing answers at http://{NOBODY_LISTENS}/v2/" in message


@pytest.mark.parametrize(
    "error",
    [
        BadAnswer("PullImage", "bytes that do not decode as a PullImageResponse"),
        NoAnswer("PullImage", 2.0, "unix:///run/x.sock"),
        CallFailed("PullImage", grpc.StatusCode.UNIMPLEMENTED, "no images here"),
    ],
    ids=["undecodable", "no-answer", "unimplemented"],
)
def test_a_broken_pull_image_is_left_to_the_tests_that_record_it(error: CriError) -> None:
    check(error)
