"""Hypothesis profiles for the property suite, chosen with ``--hypothesis-profile``.

``ci`` is small and derandomized (the same examples every run, so a red CI is reproducible
and the whole property suite takes a minute or two); ``thorough`` explores far more, from a
fresh seed each run that the harness prints.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

CI = "ci"
THOROUGH = "thorough"
DEFAULT = CI


def register() -> None:
    # Every example runs pods on a real runtime: no per-example deadline, and in CI no
    # shrinking either (each shrink step is another pod); ``thorough`` shrinks to the minimum.
    # Both start from hypothesis' ``default`` profile, never from the one in force: when the
    # ``CI`` environment variable is set, hypothesis loads its own derandomized ``ci`` profile
    # (which ours replaces), and a profile inheriting that would never draw a fresh seed.
    base = settings.get_profile("default")
    settings.register_profile(
        CI,
        parent=base,
        max_examples=6,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        print_blob=True,
        report_multiple_bugs=False,
    )
    settings.register_profile(
        THOROUGH,
        parent=base,
        max_examples=100,
        deadline=None,
        print_blob=True,
        report_multiple_bugs=False,
    )


def derandomized(profile: str) -> bool:
    return bool(settings.get_profile(profile).derandomize)


def sharing_fixtures() -> settings:
    """Settings for a property test whose function-scoped fixtures serve every example.

    Hypothesis warns when a test with function-scoped fixtures runs many examples, since the
    fixture is not reset between them. The property fixtures are built for that: each example
    opens its own ``Lab`` and removes what it made, so the warning is answered, not hidden.
    Call at import time of the test module (after the profile is loaded): a settings object
    copies the profile that is current when it is made.
    """
    current = settings.get_profile(settings.get_current_profile_name())
    suppressed = [*current.suppress_health_check, HealthCheck.function_scoped_fixture]
    return settings(suppress_health_check=suppressed)
