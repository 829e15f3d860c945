"""The package layout, which pyproject.toml cannot say declaratively, and the test images.

The repository keeps the suite and its data at the top level (``suites/``, ``fixtures/``);
the build maps them into the ``harness`` package, so a wheel carries them and the harness
reads them through ``importlib.resources`` (``harness/package_data.py``) wherever it is
installed. Every other package is found, so a new subpackage needs no entry here:
``harness``, ``reference_shim``, and the two that both of them use without importing each
other, ``kube_streaming`` (the streaming wire protocols) and ``linux_capabilities``.

The wheel also carries the test images, built here into ``harness/images/built/KEY`` (one OCI
layout, linux/amd64 and linux/arm64, about 4 MB before the wheel's compression), so that
``--cri-image-registry`` and ``cri-conformance images push`` need no image tools on the
user's machine. Building them fetches the pinned busybox-static .debs (scripts/fetch-deb), so
a wheel is built on a Debian-like machine; an editable install builds them on first use instead.
"""

import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MAPPED = {"harness.suites": "suites", "harness.fixtures": "fixtures"}
# Folders of data files (package-data in pyproject.toml), packages without code.
DATA = ["harness.fixtures.images", "harness.fixtures.profiles", "harness.fixtures.diff"]


class BuildWithImages(build_py):
    """build_py, plus the test images' layout written into the built package."""

    def run(self) -> None:
        super().run()
        if self.dry_run or getattr(self, "editable_mode", False):
            return
        sys.path.insert(0, str(ROOT))  # the harness being built, whatever is installed
        from harness.images.builder import build_into, layout_key
        from harness.images.catalog import SHIPPED
        from harness.images.recipes import load_recipes

        recipes = load_recipes(ROOT / "fixtures" / "images")
        build_into(recipes, Path(self.build_lib, "harness", "images", SHIPPED, layout_key(recipes)))


setup(
    packages=[
        *find_packages(include=["harness", "harness.*", "reference_shim*", "kube_streaming*"]),
        "linux_capabilities",
        *MAPPED,
        *DATA,
    ],
    package_dir=MAPPED,
    cmdclass={"build_py": BuildWithImages},
)
