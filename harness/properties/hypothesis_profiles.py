"""Hypothesis profiles for the property suite, and the choice of one for a run.

``cri-conformance-ci`` is small and derandomized (the same examples every run, so a red CI is
reproducible and the whole property suite takes a minute or two); ``cri-conformance-thorough``
explores far more, from a fresh seed each run that the harness prints.

They apply to the property tests only: the tests carry them as a decorator
(``for_property_tests``), and nothing here loads a profile for the session, so other
hypothesis tests in the environment keep theirs. Our names carry the project's prefix and are
registered only when free, so no profile a project registered is replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.errors import InvalidArgument

CI = "cri-conformance-ci"
THOROUGH = "cri-conformance-thorough"
DEFAULT = CI
Test = TypeVar("Test", bound=Callable[..., object])


def register() -> None:
    # Every example runs pods on a real runtime: no per-example deadline, and in CI no
    # shrinking either (each shrink step is another pod); ``thorough`` shrinks to the minimum.
    # Both start from hypothesis' ``default`` profile, never from the one in force (hypothesis
    # loads its own derandomized ``ci`` profile when the CI variable is set).
    base = settings.get_profile("default")
    common = {"deadline": None, "print_blob": True, "report_multiple_bugs": False}
    _register_if_free(
        CI,
        parent=base,
        max_examples=6,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        **common,
    )
    _register_if_free(THOROUGH, parent=base, max_examples=100, **common)


def _register_if_free(name: str, **options: object) -> None:
    try:
        settings.get_profile(name)
    except InvalidArgument:
        settings.register_profile(name, **options)  # type: ignore[arg-type]


def exists(profile: str) -> bool:
    try:
        settings.get_profile(profile)
    except InvalidArgument:
        return False
    return True


def derandomized(profile: str) -> bool:
    return bool(settings.get_profile(profile).derandomize)


@dataclass(frozen=True)
class Choice:
    """The run's profile for the property tests, and its seed (None when derandomized)."""

    profile: str = DEFAULT
    seed: str | None = None


_chosen = Choice()


def choose(choice: Choice) -> None:
    """Set by the property plugin at configure time, before any test module is imported."""
    global _chosen
    _chosen = choice


def chosen() -> Choice:
    return _chosen


def for_property_tests() -> Callable[[Test], Test]:
    """The decorator of a property test: the run's profile and seed, for this test alone.

    It also answers hypothesis' warning about a test with function-scoped fixtures running
    many examples: the property fixtures are built for that (each example opens its own
    ``Lab`` and removes what it made). Apply at import time of the test module.
    """
    profile = settings.get_profile(_chosen.profile)
    suppressed = [*profile.suppress_health_check, HealthCheck.function_scoped_fixture]
    chosen_settings = settings(parent=profile, suppress_health_check=suppressed)

    def apply(test: Test) -> Test:
        test = chosen_settings(test)
        return test if _chosen.seed is None else seed(int(_chosen.seed))(test)

    return apply
