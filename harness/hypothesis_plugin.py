"""pytest plugin for the property suite: hypothesis profiles, the run's seed, the runner.

Registered as its own ``pytest11`` entry point so its ``pytest_configure`` runs before
hypothesis' own (``tryfirst``): it picks the ``ci`` profile when none is given and, for a
randomized profile, one seed for the whole run (every xdist worker gets the controller's),
which the header prints so a failing run can be repeated with ``--hypothesis-seed``.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from harness import hypothesis_profiles
from harness.factories import RunContext
from harness.matrix.recorder import is_suite_run
from harness.plugin import SETTINGS_KEY
from harness.properties.runner import FAILING_SPECS, PropertyRunner, Reproduction
from harness.session import CriSession
from harness.specs import Owner

SEED_KEY = pytest.StashKey[str | None]()
PROFILE_KEY = pytest.StashKey[str]()

hypothesis_profiles.register()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings

    profile = getattr(config.option, "hypothesis_profile", None) or hypothesis_profiles.DEFAULT
    config.option.hypothesis_profile = profile
    settings.load_profile(profile)  # also when hypothesis' pytest plugin is disabled
    worker_input = getattr(config, "workerinput", None)
    seed = getattr(config.option, "hypothesis_seed", None)
    if worker_input is not None:
        seed = worker_input.get("hypothesis_seed")
    elif seed is None and not hypothesis_profiles.derandomized(profile):
        seed = str(random.SystemRandom().getrandbits(32))
    if seed is not None:
        config.option.hypothesis_seed = seed
    config.stash[PROFILE_KEY] = profile
    config.stash[SEED_KEY] = None if hypothesis_profiles.derandomized(profile) else seed
    if worker_input is None and is_suite_run(config):  # this run's failing specs, no older ones
        shutil.rmtree(Path(config.getoption("report_dir")) / FAILING_SPECS, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: every worker draws examples from the controller's seed."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    node.workerinput["hypothesis_seed"] = config.stash[SEED_KEY]  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> str:
    return f"cri-conformance: {_reproduction(config, '').describe()}"


def _reproduction(config: pytest.Config, endpoint: str) -> Reproduction:
    return Reproduction(config.stash[PROFILE_KEY], config.stash[SEED_KEY], endpoint)


@pytest.fixture
def property_runner(
    request: pytest.FixtureRequest,
    cri_session: CriSession,
    run_context: RunContext,
    tmp_path: Path,
) -> PropertyRunner:
    """Checks properties of generated specs; safe to share across a test's examples."""
    config = request.config
    owner = Owner(
        run_id=run_context.run_id,
        test=run_context.test,
        log_root=str(run_context.log_root),
        volume_root=str(tmp_path / "volumes"),
    )
    return PropertyRunner(
        client=cri_session.client,
        puller=cri_session.puller,
        owner=owner,
        report_dir=Path(config.getoption("report_dir")),
        reproduction=_reproduction(config, cri_session.client.endpoints.runtime),
        runtime_handler=config.stash[SETTINGS_KEY].runtime_handler,
    )
