"""The package layout, which pyproject.toml cannot say declaratively.

The repository keeps the suite and its data at the top level (``suites/``, ``fixtures/``);
the build maps them into the ``harness`` package, so a wheel carries them and the harness
reads them through ``importlib.resources`` (``harness/package_data.py``) wherever it is
installed. Every other package is found, so a new subpackage needs no entry here.
"""

from setuptools import find_packages, setup

MAPPED = {"harness.suites": "suites", "harness.fixtures": "fixtures"}
# Folders of data files (package-data in pyproject.toml), packages without code.
DATA = ["harness.fixtures.images", "harness.fixtures.profiles"]

setup(
    packages=[*find_packages(include=["harness", "harness.*", "reference_shim*"]), *MAPPED, *DATA],
    package_dir=MAPPED,
)
