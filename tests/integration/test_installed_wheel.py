"""The wheel, installed into a fresh virtualenv outside the checkout, runs the suite against
containerd, and leaves another project's tests alone (installed_wheel.py builds it).

The runs go as on a user's machine without image tools: PATH holds the virtualenv's bin
folder only (no umoci, busybox, skopeo or docker-registry), and the image cache is empty, so
the images can only come from the layout the wheel carries. They are pushed, by the installed
``cri-conformance images push``, to a registry of the test's own (``--cri-image-registry``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TypedDict

import pytest
from installed_wheel import Installed, install

# Areas that need little time on containerd 1.6: its information, the idempotency rules, and
# the image service (pulls by tag and digest, ids on this machine's architecture).
AREAS = "runtime,idempotence,image"
IMAGE_TOOLS = ("umoci", "busybox", "skopeo", "docker-registry")
WHEEL_LIMIT = 5 * 1024 * 1024  # "a few MB": the wheel carries both architectures' images
UNRELATED = """
from hypothesis import given, settings, strategies as st

def test_plain():
    assert sum([1, 2]) == 3

@given(st.integers())
def test_property(n):
    assert n == n

def test_profile():
    print("SESSION PROFILE", settings.get_current_profile_name())
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("installed-wheel"))


class ToolFreeEnvironment(TypedDict):
    """The variables `without_tools` sets: a TypedDict, so `**` of it cannot fill `cwd`."""

    PATH: str
    CRI_CONFORMANCE_IMAGE_CACHE: str


@pytest.fixture(scope="module")
def without_tools(installed: Installed) -> ToolFreeEnvironment:
    """The environment of a machine with the package and nothing else: see the docstring."""
    path = str(installed.venv / "bin")
    assert not [tool for tool in IMAGE_TOOLS if shutil.which(tool, path=path)]
    cache = installed.workdir / "empty-image-cache"
    cache.mkdir(exist_ok=True)
    return {"PATH": path, "CRI_CONFORMANCE_IMAGE_CACHE": str(cache)}


@pytest.fixture(scope="module")
def registry(
    installed: Installed, without_tools: ToolFreeEnvironment, private_registry: str
) -> str:
    """The test's registry, holding the images the installed package pushed there."""
    pushed = installed.run("cri-conformance", "images", "push", "--to", private_registry,
                           **without_tools)  # fmt: skip
    assert f"{private_registry}/cri-conformance/busybox:1.0@sha256:" in pushed
    assert not any(Path(without_tools["CRI_CONFORMANCE_IMAGE_CACHE"]).iterdir()), "it built"
    return private_registry


def test_the_wheel_carries_the_suite_and_its_data(installed: Installed) -> None:
    where = installed.run(
        "python",
        "-c",
        "import harness, harness.package_data as data, kube_streaming, linux_capabilities; "
        "print(harness.__file__, data.suites_dir(), data.fixtures_dir(), "
        "kube_streaming.__file__, linux_capabilities.__file__, sep='\\n')",
    )
    assert all(line.startswith(str(installed.venv)) for line in where.split()), where
    assert installed.run("cri-conformance", "--version").strip() == "cri-conformance 0.1.0"
    images = installed.run("cri-conformance", "images", "list")
    assert "busybox\t1.0,latest\tsha256:" in images
    (layout,) = installed.venv.glob("lib/python*/site-packages/harness/images/built/*/index.json")
    tags = {m["annotations"]["org.opencontainers.image.ref.name"]
            for m in json.loads(layout.read_text())["manifests"]}  # fmt: skip
    assert {"busybox:1.0", "pause:3.9", "webserver:1.0"} <= tags
    assert installed.wheel.stat().st_size < WHEEL_LIMIT, installed.wheel.stat().st_size


def test_run_against_containerd_from_the_wheel(
    installed: Installed,
    containerd_endpoint: str,
    registry: str,
    without_tools: ToolFreeEnvironment,
) -> None:
    reports = installed.workdir / "reports"
    installed.run(
        "cri-conformance", "run",
        "--target", f"containerd={containerd_endpoint}",
        "--profile", "containerd=containerd-1.6",
        "--report-dir", str(reports),
        "--", "--cri-area", AREAS, "--cri-image-registry", registry,
        **without_tools,
    )  # fmt: skip
    matrix = json.loads((reports / "matrix.json").read_text())
    (run,) = matrix["runtimes"]
    assert (run["name"], run["runtime_name"], run["profile"]) == (
        "containerd",
        "containerd",
        "containerd-1.6",
    )
    areas = {row["area"] for row in matrix["features"]}
    assert areas == {"runtime", "idempotence", "image"}
    cells = [cell for row in matrix["features"] for cell in row["cells"].values()]
    assert "fail" not in [cell["state"] for cell in cells]
    assert (reports / "containerd" / "junit.xml").exists()
    assert not list(installed.venv.rglob(".pytest_cache")), "pytest wrote into site-packages"


def test_pytest_pyargs_runs_the_installed_suite(
    installed: Installed,
    containerd_endpoint: str,
    registry: str,
    without_tools: ToolFreeEnvironment,
) -> None:
    output = installed.run(
        "pytest", "--pyargs", "harness.suites",
        "--cri-endpoint", containerd_endpoint,
        "--cri-runtime-profile", "containerd-1.6",
        "--cri-report-dir", "pyargs-reports",
        "--cri-image-registry", registry,
        "--cri-area", "runtime", "-p", "no:cacheprovider",
        **without_tools,
    )  # fmt: skip
    assert "passed" in output
    matrix = json.loads((installed.workdir / "pyargs-reports" / "matrix.json").read_text())
    assert {row["area"] for row in matrix["features"]} == {"runtime"}
    assert (installed.workdir / "pyargs-reports" / "junit.xml").exists()


def test_an_unrelated_test_folder_passes_untouched(
    installed: Installed, containerd_endpoint: str
) -> None:
    folder = installed.workdir / "unrelated"
    folder.mkdir()
    (folder / "test_unrelated.py").write_text(UNRELATED)
    without = ("-p", "no:cri_conformance", "-p", "no:cri_conformance_properties")
    plain = installed.run("pytest", "-s", "-p", "no:cacheprovider", *without, cwd=folder)
    output = installed.run(
        "pytest", "-s", "-p", "no:cacheprovider",
        cwd=folder, CONTAINER_RUNTIME_ENDPOINT=containerd_endpoint,
    )  # fmt: skip
    assert "3 passed" in output
    assert "cri-conformance:" not in output
    assert profile_line(output) == profile_line(plain)
    assert not (folder / "reports").exists()


def test_the_core_install_has_no_docker_and_says_what_the_shim_needs(
    installed: Installed,
) -> None:
    with pytest.raises(AssertionError, match="pip install 'cri-conformance\\[shim\\]'"):
        installed.run(
            "cri-conformance", "shim", "--socket", "/nonexistent/s", "--state-dir", "/nonexistent"
        )
    installed.run("pip", "check")


def profile_line(output: str) -> str:
    return next(line for line in output.splitlines() if "SESSION PROFILE" in line)
