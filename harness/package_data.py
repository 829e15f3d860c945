"""Where the files a run reads live: in the installed package, found through importlib.resources.

The repository keeps ``suites/`` and ``fixtures/`` at its top level; the build maps them into
the package as ``harness.suites`` and ``harness.fixtures`` (setup.py), and the feature registry
and matrix schemas live in ``harness`` itself. A wheel and an editable install therefore find
them the same way, and nothing depends on where a checkout is or which folder a run starts in.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SUITES_PACKAGE = "harness.suites"
FIXTURES_PACKAGE = "harness.fixtures"
# Another fixtures folder (recipes in images/, profiles in profiles/), e.g. a bare checkout's
# fixtures/ when the package is not installed (scripts/services builds images before any venv).
FIXTURES_ENV = "CRI_CONFORMANCE_FIXTURES"


class PackageDataError(Exception):
    """The package's data cannot be found; the message says how to install it."""


def package_dir(package: str) -> Path:
    """The folder of one of the harness's packages, on the file system.

    pytest and the image builder need real paths, so an install the files are not unpacked
    from (a zip import) is refused with a message rather than half working.
    """
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise PackageDataError(
            f"{package} is not installed: install cri-conformance (pip install cri-conformance, "
            f"or pip install -e . in a checkout), or set {FIXTURES_ENV} to a fixtures folder"
        ) from None
    if not isinstance(root, Path) or not root.is_dir():
        raise PackageDataError(f"{package} is not unpacked on the file system ({root})")
    return root


def suites_dir() -> Path:
    """The conformance suite: what ``cri-conformance run`` hands to pytest."""
    return package_dir(SUITES_PACKAGE)


def fixtures_dir() -> Path:
    override = os.environ.get(FIXTURES_ENV)
    return Path(override) if override else package_dir(FIXTURES_PACKAGE)
