"""Which objects on the runtime belong to this run: the one rule every cleanup path obeys.

Every pod and container the harness makes carries ``RUN_LABEL=<run id>``. Asking the runtime
for "objects with this label" is not proof of ownership: the label filter is the runtime's
work, and a runtime that ignores it answers with every pod on the node. Nor is an id proof: a
broken runtime could answer RunPodSandbox with the id of a pod it already had. So before any
Stop or Remove, the harness reads the object's labels itself and asks ``RunOwnership.owns``.
An object without this run's label is left alone, whatever a list call or a create call said,
which is what makes the harness safe to point at a live node.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

RUN_LABEL = "cri-conformance.io/run"
TEST_ANNOTATION = "cri-conformance.io/test"


def new_run_id() -> str:
    """Sortable by time, unique across concurrent runs, and a valid Kubernetes label value."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class RuntimeObject(Protocol):
    """A pod or container as a list or status call returns it (PodSandbox, ContainerStatus...)."""

    @property
    def id(self) -> str: ...

    @property
    def metadata(self) -> _Named: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Foreign:
    """An object a cleanup path was offered and left alone, because it is not this run's."""

    kind: str
    id: str
    name: str
    run_label: str | None  # the value it carries under RUN_LABEL, None without the label

    @classmethod
    def of(cls, kind: str, found: RuntimeObject) -> Foreign:
        return cls(kind, found.id, found.metadata.name, found.labels.get(RUN_LABEL))

    def describe(self) -> str:
        carried = (
            f"labelled {RUN_LABEL}={self.run_label}"
            if self.run_label is not None
            else f"without a {RUN_LABEL} label"
        )
        return f"{self.kind} {self.name or '<no name>'} ({self.id}), {carried}"


class LeftAlone(AssertionError):
    """The runtime handed a test an object that is not the run's; it was not touched.

    An AssertionError, because it is the runtime's fault (an id it gave out, or a status that
    lost the labels it was given), and it fails the test or replay that met it.
    """

    def __init__(self, left_alone: list[Foreign]) -> None:
        self.left_alone = left_alone
        listed = "; ".join(foreign.describe() for foreign in left_alone)
        super().__init__(
            f"SAFETY: left alone {listed}: the runtime reported it as one of this test's "
            f"objects, but its status does not carry this run's {RUN_LABEL} label, so the "
            "harness never stopped or removed it"
        )


@dataclass(frozen=True)
class RunOwnership:
    """The run's mark on what it creates, and the check of that mark before any removal."""

    run_id: str

    @property
    def labels(self) -> dict[str, str]:
        """The labels that make an object this run's (also the sweep's label selector)."""
        return {RUN_LABEL: self.run_id}

    def owns(self, found: RuntimeObject) -> bool:
        """True only when the object, as the runtime reports it, carries this run's label."""
        return self.owns_labels(found.labels)

    def owns_labels(self, labels: Mapping[str, str]) -> bool:
        """The same rule for objects outside the CRI (the benchmark's Docker containers)."""
        return labels.get(RUN_LABEL) == self.run_id
