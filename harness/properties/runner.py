"""Runs one property on one spec inside a Lab, saving the spec when the property fails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.client import CriClient
from harness.factories import ImagePuller
from harness.properties.lab import lab
from harness.properties.registry import lookup
from harness.properties.spec_files import Spec, save
from harness.properties.specs import Owner

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
    """What a property test needs: the owner for strategies, and ``check(spec)``."""

    def __init__(
        self,
        client: CriClient,
        puller: ImagePuller,
        owner: Owner,
        report_dir: Path,
        reproduction: Reproduction,
        runtime_handler: str = "",
    ) -> None:
        self.client = client
        self.owner = owner
        self._runtime_handler = runtime_handler
        self._puller = puller
        self._report_dir = report_dir
        self._reproduction = reproduction

    def check(self, spec: Spec) -> None:
        """Run the spec's property on the runtime; on failure save the spec and say where."""
        prop = lookup(spec.property)
        try:
            with lab(self.client, self._puller, self.owner, self._runtime_handler) as scope:
                prop.check(scope, spec)
        except Exception as error:
            path = self.save(spec, error)
            endpoint = self._reproduction.endpoint
            error.add_note(
                f"failing spec saved to {path}\n"
                f"replay: cri-conformance replay {path} --cri-endpoint {endpoint}\n"
                f"{self._reproduction.describe()}"
            )
            raise

    def save(self, spec: Spec, error: Exception) -> Path:
        """One file per test (named after its parameters): the last failing example, which is
        the one hypothesis reports."""
        test = self.owner.test.split("::")[-1]
        parameters = re.search(r"\[(.+)\]$", test)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", parameters.group(1) if parameters else test)
        return save(
            spec,
            self._report_dir / FAILING_SPECS / f"{name}.json",
            test=self.owner.test,
            profile=self._reproduction.profile,
            seed=self._reproduction.seed,
            failure=f"{type(error).__name__}: {error}",
        )
