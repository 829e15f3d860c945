"""What a runtime says in Status it can do, and what that makes of its answers.

api.proto ``StatusResponse.runtime_handlers`` carries each handler's ``RuntimeHandlerFeatures``
(``recursive_read_only_mounts``, ``user_namespaces``); ``StatusResponse.features`` carries the
CRI-wide ``RuntimeFeatures`` (``supplemental_groups_policy``: "the runtime supports
SupplementalGroupsPolicy and ContainerUser"). The kubelet asks for such a feature only where it
is advertised, so a test of one judges the runtime's answer by what it advertised:

- advertised: the runtime promised it. A refusal of the request, whatever its code
  (UNIMPLEMENTED included), is a failure, and so is a request accepted but not honoured: an
  advertised feature that is broken fails even though the feature is optional.
- not advertised: a refusal (any gRPC error) is the honest answer; it is raised as
  ``Unadvertised``, which the recorder makes an *unsupported* cell for an optional feature whose
  own call refused. A request the runtime accepts all the same must still be honoured: it said
  yes, and a pod relying on a recursive read-only mount, exact groups or a user namespace it did
  not get is less isolated than it asked to be. So that a refusal excuses the feature and
  nothing else, each test first has the runtime take the same request without the feature.

A runtime whose Status lists no runtime handlers at all predates them (its CRI is older than
Kubernetes 1.30's), and so every field added since: protobuf drops a field a runtime does not
know, so such a runtime can neither refuse nor honour it, and the kubelet sends none of the
flagged features to it. The test does not ask (``Predates``, unsupported); that the handler list
is missing is the failure of its own row, runtime.status.runtime-handlers. A field with no flag
(image volumes) is asked for all the same, and a predating runtime's refusal of it, whatever its
code, is unsupported too (``refusal_excused_if_predating``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed


class StatusSource(Protocol):
    """What this module needs of a CRI client: its Status."""

    def status(self) -> cri.StatusResponse: ...


class Flag(StrEnum):
    """The feature flags of api.proto RuntimeHandlerFeatures and RuntimeFeatures."""

    RECURSIVE_READ_ONLY_MOUNTS = "recursive_read_only_mounts"
    USER_NAMESPACES = "user_namespaces"
    SUPPLEMENTAL_GROUPS_POLICY = "supplemental_groups_policy"


# Flags a runtime advertises per handler (RuntimeHandlerFeatures); the rest are CRI-wide.
HANDLER_FLAGS = frozenset({Flag.RECURSIVE_READ_ONLY_MOUNTS, Flag.USER_NAMESPACES})


@dataclass(frozen=True)
class Advertisement:
    """Whether Status advertises ``flag`` (for ``handler``, when the flag is per handler), and
    whether it lists runtime handlers at all (``predating`` when it does not)."""

    flag: Flag
    handler: str
    advertised: bool
    predating: bool = False

    def describe(self) -> str:
        verb = "advertises" if self.advertised else "does not advertise"
        where = f" for runtime handler {self.handler!r}" if self.flag in HANDLER_FLAGS else ""
        return f"Status {verb} {self.flag}{where}"


def advertisement(cri: StatusSource, flag: Flag, handler: str = "") -> Advertisement:
    """What Status says now about ``flag``; a handler Status does not list advertises nothing."""
    status = cri.status()
    if not status.runtime_handlers:
        return Advertisement(flag, handler, advertised=False, predating=True)
    if flag in HANDLER_FLAGS:
        listed = [entry for entry in status.runtime_handlers if entry.name == handler]
        advertised = bool(listed) and bool(getattr(listed[0].features, flag))
    else:
        advertised = bool(getattr(status.features, flag))
    return Advertisement(flag, handler, advertised)


PREDATING = (
    "Status lists no runtime_handlers: the runtime's CRI predates Kubernetes 1.30, which added "
    "them with the feature flags the kubelet reads, and the fields added since, which it drops "
    "unread"
)


class NotOffered(Exception):
    """A feature the runtime does not offer, by its own Status: an unsupported cell.

    ``rpc`` is the call whose answer says so; the recorder excuses it only when that call is
    one of the feature's own.
    """

    rpc: str


class Predates(NotOffered):
    """The runtime predates the field, so the test did not ask for it."""

    rpc = "Status"

    def __init__(self, flag: Flag) -> None:
        super().__init__(
            f"{PREDATING}; the kubelet asks for {flag} only where it is advertised, so the test "
            "does not ask"
        )


class Unadvertised(NotOffered):
    """A runtime refused a feature it does not advertise (or predates)."""

    def __init__(self, why: str, refusal: CallFailed) -> None:
        self.rpc = refusal.rpc
        self.refusal = refusal
        code = refusal.code.name
        super().__init__(f"{why}, and {refusal.rpc} refused it with {code}: {refusal.details}")


def refuse_if_predating(advert: Advertisement) -> None:
    """Do not ask a runtime for a flagged field it predates (the kubelet would not)."""
    if advert.predating:
        raise Predates(advert.flag)


@contextmanager
def asking_for(advert: Advertisement) -> Iterator[None]:
    """Wrap the calls that ask for the advertised (or not advertised) feature.

    A refusal becomes ``Unadvertised`` when the feature is not advertised, and an assertion
    error when it is (a promise broken); a predating runtime is not asked at all. Anything else
    passes through unchanged.
    """
    refuse_if_predating(advert)
    try:
        yield
    except CallFailed as error:
        if advert.advertised:
            raise AssertionError(
                f"{advert.describe()}, yet {error.rpc} refused it with {error.code.name}: "
                f"{error.details}"
            ) from error
        raise Unadvertised(advert.describe(), error) from error


@contextmanager
def refusal_excused_if_predating(cri: StatusSource) -> Iterator[None]:
    """For a field with no flag: a refusal from a runtime that predates it is unsupported,
    whatever its code; from any other runtime it is judged as usual."""
    try:
        yield
    except CallFailed as error:
        if cri.status().runtime_handlers:
            raise
        raise Unadvertised(PREDATING, error) from error
