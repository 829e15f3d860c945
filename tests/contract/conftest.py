"""The VM-backend contract suite: one set of tests, run over every backend.

As pytest-testinfra runs its tests over every host, each test here takes ``driver`` and runs
once per backend: the unit tests' in-memory fake, the apple backend over the double of
Apple's CLI (tests/apple_cli_double/), and the Docker backend on the real Docker Engine of
scripts/services (an integration test: it fails, never skips, when Docker does not answer).
With CRI_CONTRACT_MICROVM=1 it runs over the microvm backend too: real VMs under TCG, a few
seconds a boot, so not by default (scripts/services microvm installs what it needs).
The contract itself is written in reference_shim/backends/base.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The fake backend and the driver of Apple's CLI double live with the unit tests that use them
# most; this suite imports them from there rather than keeping copies.
_TESTS = Path(__file__).parents[1]
sys.path[:0] = [str(_TESTS / "unit" / "shim"), str(_TESTS / "unit" / "apple")]

from contract_drivers import (  # noqa: E402
    AppleDriver,
    DockerDriver,
    Driver,
    FakeDriver,
    MicrovmDriver,
)

from reference_shim.backends.docker import engine_problem  # noqa: E402
from reference_shim.backends.docker.host import docker_host  # noqa: E402


def _driver(name: str, folder: Path) -> Driver:
    if name == "fake":
        return FakeDriver()
    if name == "apple":
        return AppleDriver(folder)
    if name == "microvm":
        return MicrovmDriver(folder)
    problem = engine_problem(docker_host())
    if problem is not None:
        pytest.fail(problem)
    return DockerDriver()


BACKENDS = [
    "fake",
    "apple",
    "docker",
    *(["microvm"] if os.environ.get("CRI_CONTRACT_MICROVM") else []),
]


@pytest.fixture(scope="session", params=BACKENDS)
def backend_driver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Driver]:
    """One backend for the whole session, set up once, torn down at the end."""
    driver = _driver(request.param, tmp_path_factory.mktemp(request.param))
    driver.backend.setup()
    yield driver
    driver.backend.teardown()


@pytest.fixture
def driver(backend_driver: Driver) -> Iterator[Driver]:
    """The backend under test; what the test made is removed after it."""
    yield backend_driver
    backend_driver.clean_up()
