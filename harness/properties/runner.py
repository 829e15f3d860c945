"""Runs one property on one spec inside a Lab, saving the spec when the property fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.client import CriClient
from harness.factories import ImagePuller
from harness.ownership import LeftAlone
from harness.properties.lab import LabCleanupFailed, lab
from harness.properties.registry import lookup
from harness.properties.spec_files import Spec, save
from harness.properties.specs import Owner
from harness.removal_queue import RemovalQueue
from harness.resources import Cleanup, Removal

FAILING_SPECS = "failing-specs"


@dataclass(frozen=True)
class Reproduction:
    """How the run chose its examples, written next to every failing spec."""

    profile: str
    seed: str | None
    endpoint: str

    def describe(self) -> str:
        if self.seed is None:
            return f"hypothesis profile {self.profile}, derandomized (same examples every run)"
        return (
            f"hypothesis profile {self.profile}, seed {self.seed} (--hypothesis-seed {self.seed})"
        )


class PropertyRunner:
    """What a property test needs: the owner for strategies, and ``check(spec)``.

    Given a ``removal_queue``, an example's pods are stopped and removed while the next
    example runs (statuses are still read as the example ends, so an object that is not the
    run's fails that example at once). As without it, a removal that fails fails a passing
    example, and an object left alone any: the test fails in ``finish``, after the last
    example, with the example's spec saved as ``<parameters>.cleanup.json`` (replayed, it fails
    the same way, since a replay removes as it goes). Hypothesis does not shrink such a spec.
    """

    def __init__(
        self,
        client: CriClient,
        puller: ImagePuller,
        owner: Owner,
        report_dir: Path,
        reproduction: Reproduction,
        runtime_handler: str = "",
        removal_queue: RemovalQueue | None = None,
    ) -> None:
        self.client = client
        self.owner = owner
        self._runtime_handler = runtime_handler
        self._puller = puller
        self._report_dir = report_dir
        self._reproduction = reproduction
        self._removal_queue = removal_queue
        self._failed_removals: list[tuple[Spec, Cleanup]] = []
        self._failed_examples: list[Spec] = []

    def check(self, spec: Spec) -> None:
        """Run the spec's property on the runtime; on failure save the spec and say where."""
        prop = lookup(spec.property)
        later = None if self._removal_queue is None else _ExampleRemovals(self._defer, spec)
        try:
            with lab(self.client, self._puller, self.owner, self._runtime_handler, later) as scope:
                prop.check(scope, spec)
        except Exception as error:
            self._failed_examples.append(spec)
            self._explain(error, self.save(spec, error))
            raise

    def _defer(self, spec: Spec, removal: Removal) -> Cleanup:
        """Queue an example's removal; a failure is kept with its spec for ``finish``."""

        def removal_of_the_example(client: CriClient) -> Cleanup:
            try:
                outcome = removal(client)
            except Exception as error:  # whatever went wrong, it is this example's
                outcome = Cleanup(errors=[f"{type(error).__name__}: {error}"])
            if outcome.errors or outcome.left_alone:
                self._failed_removals.append((spec, outcome))
            return Cleanup()  # reported by finish, against its example

        assert self._removal_queue is not None
        return self._removal_queue.run(removal_of_the_example)

    def finish(self) -> None:
        """After the last example: wait for the removals; fail on any that failed."""
        if self._removal_queue is None:
            return
        self._removal_queue.close()
        failures = [
            (spec, outcome)
            for spec, outcome in self._failed_removals
            if outcome.left_alone or not any(spec is failed for failed in self._failed_examples)
        ]
        if not failures:
            return
        spec, outcome = failures[-1]
        failed = ", ".join(spec.pod.metadata.name for spec, _ in failures)
        error: AssertionError = (
            LeftAlone(outcome.left_alone)
            if outcome.left_alone
            else LabCleanupFailed("; ".join(outcome.errors))
        )
        error.add_note(f"the pods of {len(failures)} example(s) ({failed}) stayed")
        self._explain(error, self.save(spec, error, suffix=".cleanup"))
        raise error

    def _explain(self, error: Exception, path: Path) -> None:
        error.add_note(
            f"failing spec saved to {path}\n"
            f"replay: cri-conformance replay {path} --cri-endpoint {self._reproduction.endpoint}"
            f"\n{self._reproduction.describe()}"
        )

    def save(self, spec: Spec, error: Exception, suffix: str = "") -> Path:
        """One file per test (named after its parameters): the last failing example, which is
        the one hypothesis reports."""
        test = self.owner.test.split("::")[-1]
        parameters = re.search(r"\[(.+)\]$", test)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", parameters.group(1) if parameters else test)
        return save(
            spec,
            self._report_dir / FAILING_SPECS / f"{name}{suffix}.json",
            test=self.owner.test,
            profile=self._reproduction.profile,
            seed=self._reproduction.seed,
            failure=f"{type(error).__name__}: {error}",
        )


@dataclass(frozen=True)
class _ExampleRemovals:
    """The ``later`` of one example's Lab: the runner defers its removals, against its spec."""

    defer: Callable[[Spec, Removal], Cleanup]
    spec: Spec

    def run(self, removal: Removal) -> Cleanup:
        return self.defer(self.spec, removal)
