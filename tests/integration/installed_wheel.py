"""The package as a user gets it: the wheel built from this checkout, installed with
constraints.txt into a fresh virtualenv in a folder that is not the checkout.

Installs are offline: the wheels come from a wheelhouse (the pinned dependencies and a
setuptools to build with), kept in the user's cache folder. The test never goes to the package
index itself: `scripts/run tests` downloads the wheelhouse before pytest starts, as it installs
the project's own virtualenv (``python tests/integration/installed_wheel.py``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"
BUILD_REQUIREMENT = "setuptools>=77"
# What a copy of the checkout to build from leaves out.
NOT_SOURCE = (".git", ".venv", ".tox", "build", "dist", "reports", "*.egg-info", "*_cache")
# Variables that would let the checkout or the test's own virtualenv leak into the new one.
LEAKY = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")


def clean_environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKY}
    return {**env, **extra}


TIMEOUT = 600.0
"""Seconds a command of the virtualenv may take (pip installs included)."""


def run(command: list[str], cwd: Path, timeout: float = TIMEOUT, **env: str) -> str:
    """Run a command, failing with its output when it fails."""
    done = subprocess.run(
        command,
        cwd=cwd,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output}"
    return output


def _requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [BUILD_REQUIREMENT, *project["project"]["dependencies"]]


def wheelhouse() -> Path:
    """The folder of the pinned dependencies as wheels, one per constraints and requirements."""
    key = hashlib.sha256((CONSTRAINTS.read_text() + "\n".join(_requirements())).encode())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "cri-conformance" / f"wheelhouse-{key.hexdigest()[:16]}"


def download_wheelhouse() -> Path:
    """Download the wheelhouse from the package index, unless it is complete already."""
    house = wheelhouse()
    if (house / "complete").exists():
        return house
    staging = house.with_name(house.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:"]
    run([*pip, "-d", str(staging), "-c", str(CONSTRAINTS), *_requirements()], cwd=REPO)
    (staging / "complete").touch()
    shutil.rmtree(house, ignore_errors=True)
    staging.rename(house)
    return house


@dataclass(frozen=True)
class Installed:
    """A virtualenv holding the wheel, and a folder outside the checkout to work in."""

    venv: Path
    workdir: Path
    wheel: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *command: str, cwd: Path | None = None, **env: str) -> str:
        """A command of the virtualenv, in the work folder unless told otherwise."""
        # The timeout given, not left to `env`: a variable named "timeout" is the environment's.
        return run([self.bin(command[0]), *command[1:]], cwd or self.workdir, TIMEOUT, **env)


def offline_wheelhouse() -> Path:
    """The wheelhouse, which must be complete: tests install from it, never from the index."""
    house = wheelhouse()
    assert (house / "complete").exists(), (
        f"no wheelhouse at {house}: `scripts/run tests` downloads it before the tests "
        "(or: python tests/integration/installed_wheel.py)"
    )
    return house


def build_wheel(root: Path) -> Path:
    """The wheel of this checkout, built offline into ``root/dist``."""
    offline = ["--no-index", "--find-links", str(offline_wheelhouse())]
    # Built from a copy: setuptools writes into the source tree, and the checkout stays as is.
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = root / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *offline]
    run([*pip, "-w", str(dist), str(source)], cwd=root)
    (wheel,) = dist.glob("cri_conformance-*.whl")
    return wheel


def install(root: Path) -> Installed:
    """Build the wheel and install it, with its constraints, into ``root/venv``."""
    wheel = build_wheel(root)
    offline = ["--no-index", "--find-links", str(offline_wheelhouse())]
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    install_command = [str(venv / "bin" / "pip"), "install", "--quiet", *offline]
    run([*install_command, "-c", str(CONSTRAINTS), str(wheel)], cwd=root)
    workdir = root / "work"
    workdir.mkdir()
    return Installed(venv, workdir, wheel)


if __name__ == "__main__":
    print(download_wheelhouse())
