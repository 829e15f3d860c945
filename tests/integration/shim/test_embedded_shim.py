"""With no endpoint given, a run tests the reference shim it starts, and stops it afterwards."""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
import pytest
from docker_shim import instance_of, owned_by

from reference_shim.backends.docker.host import docker_host

USES_THE_RUNTIME = """
import pytest

@pytest.mark.feature("container.lifecycle")
def test_runs_a_container(cri, make_pod, make_container):
    pod = make_pod()
    container = make_container(pod)
    assert cri.container_status(container.id).status.state == 1
    assert cri.version().runtime_name.startswith("cri-conformance")
"""


@pytest.fixture
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTAINER_RUNTIME_ENDPOINT", raising=False)
    monkeypatch.delenv("IMAGE_SERVICE_ENDPOINT", raising=False)


def left_in_docker(basetemp: Path) -> list[str]:
    """Docker objects of the shim instance whose state lives under ``basetemp``."""
    [state_dir] = basetemp.rglob("shim-state")
    api = docker.APIClient(base_url=docker_host(None))
    try:
        return owned_by(api, instance_of(state_dir))
    finally:
        api.close()


@pytest.mark.usefixtures("no_endpoint")
@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_no_endpoint_means_the_embedded_shim_started_and_stopped_for_the_run(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(test_embedded=USES_THE_RUNTIME)
    result = pytester.runpytest_subprocess("--cri-report-dir", "out", *workers)
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "no pods or containers left behind" in output
    matrix = json.loads((pytester.path / "out" / "matrix.json").read_text())
    [run] = matrix["runtimes"]
    assert run["name"] == "reference-shim-reject"
    assert run["profile"] == "reference-shim-reject"
    assert run["endpoint"].startswith("unix:///")
    assert not list(pytester.path.rglob("embedded-shim.json")), "the shim was not stopped"
    assert left_in_docker(pytester.path) == []
    assert not re.search(r"Traceback", output)
