"""The packages depend on each other one way only.

``kube_streaming`` and ``linux_capabilities`` are shared by both ends and import neither;
``reference_shim`` never imports ``harness``; ``harness`` reaches the shim only through its
embedded launcher (``harness/embedded.py``), so a change inside the shim cannot break the
harness anywhere else. Imports are read with ``ast``, lazy ones inside functions and
``TYPE_CHECKING`` blocks included, so nothing is imported to check them.

Inside the shim, its layers (``grpc_api`` over ``cri`` over ``state``; strategies, streaming
and backends below the CRI layer) are kept apart by ruff's banned imports instead, one
``ruff.toml`` in each layer's folder, so ``scripts/run lint`` names the import that crosses.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = ("kube_streaming", "linux_capabilities")
EMBEDDED_LAUNCHER = {"harness/embedded.py"}


def imported_packages(source: Path, own: str) -> set[str]:
    """The top-level package of every module ``source`` imports (a relative import is one of
    ``own``, the package the file lives in)."""
    tree = ast.parse(source.read_text(), filename=str(source))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(own if node.level else (node.module or "").split(".")[0])
    return found


def offenders(package: str, forbidden: set[str], allowed: Collection[str] = ()) -> list[str]:
    """``path: package`` for each file of ``package`` (outside ``allowed``) importing one of
    ``forbidden``."""
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no modules under {package}/"
    return [
        f"{path.relative_to(REPO)}: {name}"
        for path in files
        if str(path.relative_to(REPO)) not in allowed
        for name in sorted(imported_packages(path, package) & forbidden)
    ]


@pytest.mark.parametrize("package", SHARED)
def test_the_shared_packages_import_neither_end(package: str) -> None:
    assert offenders(package, {"harness", "reference_shim"}) == []


def test_the_shim_never_imports_the_harness() -> None:
    assert offenders("reference_shim", {"harness"}) == []


def test_the_harness_reaches_the_shim_only_through_the_embedded_launcher() -> None:
    assert offenders("harness", {"reference_shim"}, EMBEDDED_LAUNCHER) == []
    launcher = REPO / next(iter(EMBEDDED_LAUNCHER))
    assert "reference_shim" in imported_packages(launcher, "harness"), "the launcher moved"


def test_the_suites_never_import_the_shim() -> None:
    assert offenders("suites", {"reference_shim"}) == []


def test_lazy_guarded_and_plain_imports_are_all_seen(tmp_path: Path) -> None:
    """The check itself: every way of importing counts, and a relative import stays home."""
    module = tmp_path / "probe.py"
    module.write_text(
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n    import harness.client\n"
        "def later() -> None:\n    from reference_shim.streaming import server\n"
    )
    found = imported_packages(module, "kube_streaming")
    assert found == {"json", "typing", "kube_streaming", "harness", "reference_shim"}
