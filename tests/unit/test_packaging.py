"""What the distribution promises: ranges that hold the pinned versions, its data reachable
through importlib.resources, --version, and the shim's extra named when it is missing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from harness import package_data
from harness.cli import main, version
from reference_shim import extra

REPO = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {Requirement(name).name.lower().replace("_", "-"): pinned for name, pinned in pairs}


def requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    specs = [*project["dependencies"], *(spec for specs in extras for spec in specs)]
    return [Requirement(spec) for spec in specs]


def test_every_requirement_is_a_range_holding_its_pinned_version() -> None:
    pinned = pins()
    for requirement in requirements():
        if requirement.name == "cri-conformance":
            continue  # dev names the project's own extras
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{requirement} has no pin in constraints.txt"
        assert not any(spec.operator == "==" for spec in requirement.specifier), requirement
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]}"


def test_the_shims_and_allures_libraries_are_extras() -> None:
    """The harness alone installs neither the Docker SDK nor QEMU's monitor client and the
    libseccomp bindings (the reference shim's docker and microvm backends), nor allure-pytest."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {Requirement(spec).name for spec in project["dependencies"]}
    assert not core & {"docker", "docker-image-py", "qemu.qmp", "pyseccomp", "allure-pytest"}
    extras = project["optional-dependencies"]
    shim = {Requirement(spec).name for spec in extras["shim"]}
    assert shim == {"docker", "docker-image-py", "qemu.qmp", "pyseccomp"}
    assert {Requirement(spec).name for spec in extras["allure"]} == {"allure-pytest"}


def test_the_suite_and_its_data_come_from_the_package() -> None:
    assert (package_data.suites_dir() / "conftest.py").is_file()
    fixtures = package_data.fixtures_dir()
    assert sorted(fixtures.glob("profiles/*.yaml"))
    assert sorted(fixtures.glob("images/*.toml"))


def test_a_package_that_is_not_there_says_how_to_install_it() -> None:
    with pytest.raises(package_data.PackageDataError, match="pip install"):
        package_data.package_dir("harness.not_installed")


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cri-conformance {version()}"
    assert version()[0].isdigit()


def test_a_missing_shim_extra_is_named_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert extra.problem() is None
    monkeypatch.setattr(extra, "MODULES", {"docker": "docker", "not_installed_x": "x-dist"})
    assert extra.problem() == f"the reference shim needs x-dist: {extra.INSTALL}"
