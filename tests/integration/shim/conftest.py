"""The reference shim on the real Docker Engine, started and stopped by its launcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import Launch, clean_up_after
from shim_footprint import FIGURES

from reference_shim.backends.docker import engine_problem
from reference_shim.backends.docker.host import docker_host
from reference_shim.launcher import ShimLauncher


def pytest_addoption(parser: pytest.Parser) -> None:
    """Read when this folder (or a file in it) is named on the command line; elsewhere the
    tests fall back to the defaults, the quick form."""
    group = parser.getgroup("streaming abuse", "the reference shim's streaming abuse tests")
    group.addoption(
        "--abuse-sessions",
        type=int,
        default=100,
        help="concurrent exec sessions (default 100; the thorough run is 500)",
    )
    group.addoption(
        "--abuse-rounds",
        type=int,
        default=1,
        help="how many times the concurrent sessions run (default 1; the thorough run is 3)",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures = terminalreporter.config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.write_sep("-", "shim robustness figures")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def docker_api() -> Iterator[docker.APIClient]:
    host = docker_host()
    problem = engine_problem(host)
    if problem is not None:
        pytest.fail(problem)
    api = docker.APIClient(base_url=host, version="auto")
    yield api
    api.close()


@pytest.fixture
def launch(tmp_path: Path, docker_api: docker.APIClient) -> Iterator[Launch]:
    """Start shims on one state dir; at the end everything they made is removed and checked."""
    launched: list[ShimLauncher] = []

    def start(strategy: str = "reject") -> ShimLauncher:
        launcher = ShimLauncher(
            strategy=strategy, state_dir=tmp_path / "state", log_level="debug"
        ).start()
        launched.append(launcher)
        return launcher

    yield start
    for launcher in launched:
        launcher.close()
    clean_up_after(tmp_path / "state", docker_api)


@pytest.fixture
def pod_config(tmp_path: Path) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="web", namespace="shim-test", uid="uid-web"),
        hostname="webhost",
        log_directory=str(tmp_path / "logs"),
        labels={"suite": "shim-integration"},
    )
