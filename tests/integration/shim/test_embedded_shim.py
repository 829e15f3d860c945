"""With no endpoint given, a run tests the reference shim it starts, and stops it afterwards."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_shim import owned_by

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


# In the run's own project: the shim's Docker instance, written down before the run ends and
# removes its folder (its state with it), so that the test can look for what is left of it.
RECORDS_THE_INSTANCE = """
import os
from pathlib import Path

import pytest
from docker_shim import instance_of


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        [state_dir] = Path(os.environ["TMPDIR"]).rglob("shim-state")
        Path("instance").write_text(instance_of(state_dir))
"""


@pytest.fixture
def short_temp() -> Iterator[Path]:
    """A temp folder for the run, short enough for the unix sockets made in it (107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="embedded-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def left_in_docker(instance: str) -> list[str]:
    """Docker objects of the shim instance ``instance``."""
    api = docker.APIClient(base_url=docker_host(None))
    try:
        return owned_by(api, instance)
    finally:
        api.close()


@pytest.mark.usefixtures("no_endpoint")
@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_no_endpoint_means_the_embedded_shim_started_and_stopped_for_the_run(
    pytester: pytest.Pytester, workers: list[str], short_temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = short_temp  # the run's own folder is made here, and must be gone after
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent), prepend=os.pathsep)
    pytester.makepyfile(test_embedded=USES_THE_RUNTIME)
    pytester.makeconftest(RECORDS_THE_INSTANCE)
    result = pytester.runpytest_subprocess("--cri-report-dir", "out", *workers)
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "no pods or containers left behind" in output
    matrix = json.loads((pytester.path / "out" / "matrix.json").read_text())
    [run] = matrix["runtimes"]
    assert run["name"] == "reference-shim-reject"
    assert run["profile"] == "reference-shim-reject"
    assert run["endpoint"].startswith("unix:///")
    assert not list(temp.glob("cri-conformance-run-*")), "the run left its folder"
    assert left_in_docker((pytester.path / "instance").read_text()) == []
    assert not re.search(r"Traceback", output)
