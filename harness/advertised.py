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
  not get is less isolated than it asked to be.

A runtime that predates these fields (CRI before Kubernetes 1.30) lists no handlers: it
advertises nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from harness.client import CallFailed, CriClient


class Flag(StrEnum):
    """The feature flags of api.proto RuntimeHandlerFeatures and RuntimeFeatures."""

    RECURSIVE_READ_ONLY_MOUNTS = "recursive_read_only_mounts"
    USER_NAMESPACES = "user_namespaces"
    SUPPLEMENTAL_GROUPS_POLICY = "supplemental_groups_policy"


# Flags a runtime advertises per handler (RuntimeHandlerFeatures); the rest are CRI-wide.
HANDLER_FLAGS = frozenset({Flag.RECURSIVE_READ_ONLY_MOUNTS, Flag.USER_NAMESPACES})


@dataclass(frozen=True)
class Advertisement:
    """Whether Status advertises ``flag`` (for ``handler``, when the flag is per handler)."""

    flag: Flag
    handler: str
    advertised: bool

    def describe(self) -> str:
        verb = "advertises" if self.advertised else "does not advertise"
        where = f" for runtime handler {self.handler!r}" if self.flag in HANDLER_FLAGS else ""
        return f"Status {verb} {self.flag}{where}"


def advertisement(cri: CriClient, flag: Flag, handler: str = "") -> Advertisement:
    """What Status says now about ``flag``; a handler Status does not list advertises nothing."""
    status = cri.status()
    if flag in HANDLER_FLAGS:
        listed = [entry for entry in status.runtime_handlers if entry.name == handler]
        advertised = bool(listed) and bool(getattr(listed[0].features, flag))
    else:
        advertised = bool(getattr(status.features, flag))
    return Advertisement(flag, handler, advertised)


class Unadvertised(Exception):
    """A runtime refused a feature it does not advertise: recorded as unsupported."""

    def __init__(self, advert: Advertisement, refusal: CallFailed) -> None:
        self.rpc = refusal.rpc
        self.refusal = refusal
        super().__init__(
            f"{advert.describe()}, and {refusal.rpc} refused it with {refusal.code.name}: "
            f"{refusal.details}"
        )


@contextmanager
def asking_for(advert: Advertisement) -> Iterator[None]:
    """Wrap the calls that ask for the advertised (or not advertised) feature.

    A refusal becomes ``Unadvertised`` when the feature is not advertised, and an assertion
    error when it is (a promise broken). Anything else passes through unchanged.
    """
    try:
        yield
    except CallFailed as error:
        if advert.advertised:
            raise AssertionError(
                f"{advert.describe()}, yet {error.rpc} refused it with {error.code.name}: "
                f"{error.details}"
            ) from error
        raise Unadvertised(advert, error) from error
