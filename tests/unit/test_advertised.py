"""What Status advertises, and what a refusal of a feature becomes (harness.advertised)."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.advertised import (
    Flag,
    Predates,
    Unadvertised,
    advertisement,
    asking_for,
    refusal_excused_if_predating,
)
from harness.client import CallFailed


class StatusOnly:
    """A CRI client that answers Status only."""

    def __init__(self, response: api.StatusResponse) -> None:
        self.response = response

    def status(self) -> api.StatusResponse:
        return self.response


def handlers(*entries: api.RuntimeHandler, groups_policy: bool = False) -> StatusOnly:
    features = api.RuntimeFeatures(supplemental_groups_policy=groups_policy)
    return StatusOnly(api.StatusResponse(runtime_handlers=list(entries), features=features))


RRO = api.RuntimeHandlerFeatures(recursive_read_only_mounts=True)
REFUSAL = CallFailed("CreateContainer", grpc.StatusCode.INVALID_ARGUMENT, "no")


def test_a_handler_flag_is_read_from_the_runs_handler_only() -> None:
    cri = handlers(api.RuntimeHandler(name="", features=RRO), api.RuntimeHandler(name="crun"))
    assert advertisement(cri, Flag.RECURSIVE_READ_ONLY_MOUNTS, "").advertised
    crun = advertisement(cri, Flag.RECURSIVE_READ_ONLY_MOUNTS, "crun")
    assert not crun.advertised
    assert not crun.predating
    kata = advertisement(cri, Flag.RECURSIVE_READ_ONLY_MOUNTS, "kata")
    assert not kata.advertised, "a handler Status does not list advertises nothing"


def test_the_groups_policy_is_runtime_wide() -> None:
    cri = handlers(api.RuntimeHandler(name="crun"), groups_policy=True)
    assert advertisement(cri, Flag.SUPPLEMENTAL_GROUPS_POLICY, "").advertised


def test_a_runtime_without_handlers_predates_every_flag_and_is_not_asked() -> None:
    advert = advertisement(handlers(groups_policy=True), Flag.SUPPLEMENTAL_GROUPS_POLICY)
    assert advert.predating
    assert not advert.advertised
    asked = []
    with pytest.raises(Predates, match=r"predates Kubernetes 1\.30"), asking_for(advert):
        asked.append(True)
    assert not asked


def test_a_refusal_of_an_unadvertised_feature_is_not_offered() -> None:
    cri = handlers(api.RuntimeHandler(name=""))
    advert = advertisement(cri, Flag.USER_NAMESPACES)
    with pytest.raises(Unadvertised) as refused, asking_for(advert):
        raise REFUSAL
    assert refused.value.rpc == "CreateContainer"
    assert str(refused.value) == (
        "Status does not advertise user_namespaces for runtime handler '', and CreateContainer "
        "refused it with INVALID_ARGUMENT: no"
    )


def test_a_refusal_of_an_advertised_feature_is_a_failure() -> None:
    cri = handlers(api.RuntimeHandler(name="", features=RRO))
    advert = advertisement(cri, Flag.RECURSIVE_READ_ONLY_MOUNTS)
    unimplemented = CallFailed("CreateContainer", grpc.StatusCode.UNIMPLEMENTED, "later")
    promise = r"advertises .* yet CreateContainer refused it"
    with pytest.raises(AssertionError, match=promise), asking_for(advert):
        raise unimplemented


def test_a_field_without_flag_is_excused_only_on_a_predating_runtime() -> None:
    with pytest.raises(Unadvertised), refusal_excused_if_predating(handlers()):
        raise REFUSAL
    current = handlers(api.RuntimeHandler(name=""))
    with pytest.raises(CallFailed), refusal_excused_if_predating(current):
        raise REFUSAL
