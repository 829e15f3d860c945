"""The two runtimes of a diff, and one spec examined on both.

``open_pair`` reaches both targets (a socket, or the reference shim started for the diff,
through ``harness.targets``), pulls the test image into each, and at the end sweeps each
runtime for anything still carrying the run's label (``harness.resources.sweep``), which
removes only what the run made and names whatever the runtime listed that is not.
``Pair.examine`` runs one spec on both runtimes at once and compares what they showed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.client import CriError
from harness.diff.collect import Side, observe
from harness.diff.compare import compare
from harness.diff.known import Classified, KnownDifference, classify
from harness.diff.normalise import Rule, normalise
from harness.diff.observation import Fields, Observation
from harness.factories import ImagePuller
from harness.matrix.runner import Target
from harness.ownership import RunOwnership
from harness.properties.spec_files import Spec
from harness.resources import sweep
from harness.targets import connected

Observer = Callable[[Side, Spec, frozenset[str]], Observation]


@dataclass(frozen=True)
class Example:
    """One spec on both runtimes: the normalised observations and how they differ."""

    spec: Spec
    a: Fields
    b: Fields
    differences: list[Classified]

    def shows(self, signature: str) -> bool:
        """Whether a new (unlisted) difference of this name is among the differences."""
        return any(c.is_new and c.difference.signature == signature for c in self.differences)


@dataclass
class Pair:
    a: Side
    b: Side
    areas: frozenset[str]
    rules: Sequence[Rule]
    known: Sequence[KnownDifference]
    runtimes: dict[str, str] = field(default_factory=dict)  # side name -> runtime and version
    notes: list[str] = field(default_factory=list)  # what the sweeps found
    observer: Observer = observe  # a fake runtime's, in unit tests

    def examine(self, spec: Spec) -> Example:
        """Both observations at once (each runtime works on its own), compared."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            seen_a, seen_b = pool.map(
                lambda side: self.observer(side, spec, self.areas), (self.a, self.b)
            )
        a = normalise(seen_a.fields(), seen_a.placeholders, self.rules)
        b = normalise(seen_b.fields(), seen_b.placeholders, self.rules)
        return Example(spec, a, b, classify(compare(a, b), self.known))


@dataclass(frozen=True)
class PairSettings:
    image: str
    pod_image: str  # the embedded shim's pod VM image
    run_id: str
    areas: frozenset[str]
    rules: Sequence[Rule] = ()
    known: Sequence[KnownDifference] = ()
    timeout: float = 60.0


@contextmanager
def open_pair(a: Target, b: Target, settings: PairSettings) -> Iterator[Pair]:
    """Both runtimes, connected and holding the image; swept when the context ends."""
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cri-diff-")))
        sides = []
        runtimes = {}
        for target in (a, b):
            client = stack.enter_context(connected(target, settings.pod_image, settings.timeout))
            version = client.version()
            runtimes[target.name] = f"{version.runtime_name} {version.runtime_version}"
            puller = ImagePuller(client)
            puller.ensure(settings.image)
            sides.append(
                Side(
                    target.name,
                    client,
                    puller,
                    settings.run_id,
                    scratch / target.name,
                    target.handler or "",
                )
            )
        side_a, side_b = sides
        pair = Pair(side_a, side_b, settings.areas, settings.rules, settings.known, runtimes)
        try:
            yield pair
        finally:
            for side in sides:
                pair.notes += _swept(side, RunOwnership(settings.run_id))


def _swept(side: Side, ownership: RunOwnership) -> list[str]:
    try:
        found = sweep(side.client, ownership)
    except CriError as error:
        return [f"{side.name}: the sweep could not list what the run left: {error}"]
    notes = [f"{side.name}: leftover {leak.describe()}" for leak in found.leaks]
    notes += [
        f"{side.name}: SAFETY WARNING: listed as the run's, but not; left alone: "
        f"{foreign.describe()}"
        for foreign in found.left_alone
    ]
    return notes
