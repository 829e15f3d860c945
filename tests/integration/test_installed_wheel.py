"""The wheel, installed into a fresh virtualenv outside the checkout, runs the suite against
containerd, and leaves another project's tests alone (installed_wheel.py builds it)."""

from __future__ import annotations

import json

import pytest
from installed_wheel import Installed, install

# Two areas that need little time on containerd 1.6: its information and the idempotency rules.
AREAS = "runtime,idempotence"
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


def test_the_wheel_carries_the_suite_and_its_data(installed: Installed) -> None:
    where = installed.run(
        "python",
        "-c",
        "import harness, harness.package_data as data; "
        "print(harness.__file__, data.suites_dir(), data.fixtures_dir(), sep='\\n')",
    )
    assert all(line.startswith(str(installed.venv)) for line in where.split()), where
    assert installed.run("cri-conformance", "--version").strip() == "cri-conformance 0.1.0"
    images = installed.run("cri-conformance", "images", "list")
    assert "busybox\t1.0,latest\tsha256:" in images


def test_run_against_containerd_from_the_wheel(
    installed: Installed, containerd_endpoint: str
) -> None:
    reports = installed.workdir / "reports"
    installed.run(
        "cri-conformance", "run",
        "--target", f"containerd={containerd_endpoint}",
        "--profile", "containerd=containerd-1.6",
        "--report-dir", str(reports),
        "--", "--cri-area", AREAS,
    )  # fmt: skip
    matrix = json.loads((reports / "matrix.json").read_text())
    (run,) = matrix["runtimes"]
    assert (run["name"], run["runtime_name"], run["profile"]) == (
        "containerd",
        "containerd",
        "containerd-1.6",
    )
    areas = {row["area"] for row in matrix["features"]}
    assert areas == {"runtime", "idempotence"}
    assert (reports / "containerd" / "junit.xml").exists()
    assert not list(installed.venv.rglob(".pytest_cache")), "pytest wrote into site-packages"


def test_pytest_pyargs_runs_the_installed_suite(
    installed: Installed, containerd_endpoint: str
) -> None:
    output = installed.run(
        "pytest", "--pyargs", "harness.suites",
        "--cri-endpoint", containerd_endpoint,
        "--cri-runtime-profile", "containerd-1.6",
        "--cri-report-dir", "pyargs-reports",
        "--cri-area", "runtime", "-p", "no:cacheprovider",
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
