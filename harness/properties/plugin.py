"""pytest plugin for the property suite: its hypothesis profile, the run's seed, the runner.

In a conformance session (``harness/pytest_plugin/activation.py``) it chooses the property
tests' profile: ``--cri-hypothesis-profile``, else the one ``--hypothesis-profile`` loads, else
``cri-conformance-ci``; and, for a randomized profile, one seed for the whole run (every xdist
worker gets the controller's), which the header prints so a failing run can be repeated with
``--hypothesis-seed``. Only the property tests carry that choice
(``hypothesis_profiles.for_property_tests``): the session's own hypothesis settings are never
touched, so other hypothesis tests run as they would without the harness.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.factories import RunContext
from harness.properties import hypothesis_profiles
from harness.properties.hypothesis_profiles import Choice
from harness.properties.runner import FAILING_SPECS, PropertyRunner, Reproduction
from harness.properties.specs import Owner
from harness.pytest_plugin.activation import is_active, is_suite_run
from harness.pytest_plugin.options import value
from harness.pytest_plugin.session import CriSession
from harness.pytest_plugin.stash_keys import SETTINGS_KEY
from harness.removal_queue import RemovalQueue

WORKER_SEED = "cri_hypothesis_seed"

hypothesis_profiles.register()


def pytest_configure(config: pytest.Config) -> None:
    if not is_active(config):
        return
    profile = (
        value(config, "cri_hypothesis_profile")
        or getattr(config.option, "hypothesis_profile", None)
        or hypothesis_profiles.DEFAULT
    )
    if not hypothesis_profiles.exists(profile):
        raise pytest.UsageError(f"cri-conformance: no hypothesis profile named {profile!r}")
    worker_input = getattr(config, "workerinput", None)
    seed: str | None = None
    if hypothesis_profiles.derandomized(profile):
        seed = None
    elif worker_input is not None:
        seed = worker_input[WORKER_SEED]
    else:
        given = getattr(config.option, "hypothesis_seed", None)
        seed = str(given) if given is not None else str(random.SystemRandom().getrandbits(32))
    hypothesis_profiles.choose(Choice(profile, seed))
    if worker_input is None and is_suite_run(config):  # this run's failing specs, no older ones
        report_dir = Path(value(config, "cri_report_dir"))
        shutil.rmtree(report_dir / FAILING_SPECS, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Property tests run first. Each runs many examples, a pod or more apiece, so they are a
    run's longest items, and pytest-xdist hands items out in order: started last, one keeps
    its worker busy long after the others are done; started first, they spread over the
    workers and short tests fill in behind them."""
    if is_active(config):
        items.sort(key=lambda item: "property_runner" not in getattr(item, "fixturenames", ()))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: every worker draws examples from the controller's seed."""
    node.workerinput[WORKER_SEED] = hypothesis_profiles.chosen().seed  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> str | None:
    if not is_active(config):
        return None
    return f"cri-conformance: {_reproduction('').describe()}"


def _reproduction(endpoint: str) -> Reproduction:
    choice = hypothesis_profiles.chosen()
    return Reproduction(choice.profile, choice.seed, endpoint)


@pytest.fixture
def property_runner(
    request: pytest.FixtureRequest,
    cri_session: CriSession,
    run_context: RunContext,
    tmp_path: Path,
) -> Iterator[PropertyRunner]:
    """Checks properties of generated specs; safe to share across a test's examples. Each
    example's pods are removed while the next runs, over a connection of their own."""
    config = request.config
    client = cri_session.client
    owner = Owner(
        run_id=run_context.run_id,
        test=run_context.test,
        log_root=str(run_context.log_root),
        volume_root=str(tmp_path / "volumes"),
    )
    runner = PropertyRunner(
        client=client,
        puller=cri_session.puller,
        owner=owner,
        report_dir=Path(value(config, "cri_report_dir")),
        reproduction=_reproduction(client.endpoints.runtime),
        runtime_handler=config.stash[SETTINGS_KEY].runtime_handler,
        removal_queue=RemovalQueue.beside(client),
    )
    yield runner
    runner.finish()
