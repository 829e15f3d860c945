"""The hypothesis driver: generate specs, tally the differences, shrink each new one.

1. **Explore.** Hypothesis draws ``examples`` specs from the run's seed (the generate phase
   only); each is examined on both runtimes and its differences tallied by name.
2. **Shrink**, one new difference at a time: hypothesis runs again from the same seed, and
   now an example that shows that difference fails the test, so hypothesis shrinks it to a
   minimal spec. Drawn from the same seed, the examples up to the first failing one are the
   ones explored already, and every examined spec is kept (a canonical spec is its own key,
   ``generated.spec_key``), so they cost nothing twice. Each shrink may run at most
   ``shrink_runs`` specs not seen before: at the next one, hypothesis is stopped, and the
   smallest example that showed the difference stands. (Hypothesis's shrinker would go on
   trying candidates long after; each one draws a whole spec, which takes time even when it
   is not run.)

A known difference is not shrunk: the report gives the smallest explored spec that showed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.strategies import SearchStrategy

from harness.diff.generated import spec_key
from harness.diff.pair import Example
from harness.properties.spec_files import Spec


@dataclass(frozen=True)
class SearchSettings:
    examples: int
    seed: int
    shrink_runs: int


@dataclass
class Finding:
    """One distinct difference: its name, whether it is listed, in how many explored
    examples it showed, and the smallest example of it."""

    signature: str
    reason: str | None  # the known-differences entry's reason; None: a new difference
    count: int = 0
    example: Example | None = None
    shrunk: bool = False

    @property
    def is_new(self) -> bool:
        return self.reason is None


@dataclass
class Outcome:
    explored: int
    findings: list[Finding] = field(default_factory=list)
    runs: int = 0  # specs examined on both runtimes, explored and shrinking


class _Shown(Exception):
    """Raised in the shrink phase: this example shows the difference being shrunk."""

    def __init__(self, example: Example) -> None:
        super().__init__(example.spec)
        self.example = example


class _BudgetSpent(BaseException):
    """Stops hypothesis (which reports an Exception as a failure, but lets this through)."""


class Search:
    def __init__(
        self,
        examine: Callable[[Spec], Example],
        strategy: SearchStrategy[Spec],
        options: SearchSettings,
        say: Callable[[str], None] = print,
    ) -> None:
        self._examine = examine
        self._strategy = strategy
        self._options = options
        self._say = say
        self._seen: dict[str, Example] = {}

    def run(self) -> Outcome:
        explored = self._explore()
        findings = tally(explored)
        for finding in findings:
            if finding.is_new and self._options.shrink_runs > 0:
                self._say(f"shrinking {finding.signature} ...")
                smaller = self._shrink(finding.signature)
                if smaller is not None:
                    finding.example, finding.shrunk = smaller, True
        return Outcome(len(explored), findings, len(self._seen))

    def _example(self, spec: Spec) -> Example:
        key = spec_key(spec)
        if key not in self._seen:
            self._seen[key] = self._examine(spec)
        return self._seen[key]

    def _explore(self) -> list[Example]:
        explored: list[Example] = []

        def test(spec: Spec) -> None:
            example = self._example(spec)
            explored.append(example)
            new = {c.difference.signature for c in example.differences if c.is_new}
            known = {c.difference.signature for c in example.differences if not c.is_new}
            self._say(
                f"example {len(explored)}/{self._options.examples}: "
                f"{len(new)} new, {len(known)} known difference(s)"
            )

        self._hypothesis(test, [Phase.generate])
        return explored

    def _shrink(self, signature: str) -> Example | None:
        """The smallest example of ``signature`` hypothesis reaches within the budget; None
        when it does not meet the difference again from the seed."""
        budget = self._options.shrink_runs
        smallest: Example | None = None

        def test(spec: Spec) -> None:
            nonlocal budget, smallest
            if spec_key(spec) not in self._seen:
                if budget <= 0:
                    raise _BudgetSpent
                budget -= 1
            example = self._example(spec)
            if example.shows(signature):
                if smallest is None or _size(example) < _size(smallest):
                    smallest = example
                raise _Shown(example)

        try:
            self._hypothesis(test, [Phase.generate, Phase.shrink])
        except _Shown as shown:
            return shown.example
        except _BudgetSpent:
            pass
        return smallest

    def _hypothesis(self, test: Callable[[Spec], None], phases: list[Phase]) -> None:
        chosen = settings(
            parent=settings.get_profile("default"),  # never the profile a session has loaded
            max_examples=self._options.examples,
            phases=phases,
            database=None,
            deadline=None,
            derandomize=False,
            report_multiple_bugs=False,
            print_blob=False,
            verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
        )

        @chosen
        @seed(self._options.seed)
        @given(self._strategy)
        def search(spec: Spec) -> None:
            test(spec)

        search()


def tally(explored: list[Example]) -> list[Finding]:
    """One finding per distinct (name, known entry), new ones first, each with the number of
    examples that showed it and the smallest of them."""
    findings: dict[tuple[str, str | None], Finding] = {}
    for example in explored:
        shown = {
            (c.difference.signature, c.known.reason if c.known else None)
            for c in example.differences
        }
        for signature, reason in shown:
            finding = findings.setdefault((signature, reason), Finding(signature, reason))
            finding.count += 1
            if finding.example is None or _size(example) < _size(finding.example):
                finding.example = example
    return sorted(findings.values(), key=lambda f: (not f.is_new, f.signature, f.reason or ""))


def _size(example: Example) -> int:
    return len(spec_key(example.spec))
