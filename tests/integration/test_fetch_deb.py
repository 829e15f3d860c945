"""scripts/fetch-deb trusts a .deb only when its sha256 is the one apt's signed index gives.

Runs on what `scripts/services start` left: the project-local apt lists and the containerd 2.1
.deb it fetched. No network: the lists are used as they are (their stamp is fresh), and a
tampered .deb must be refused before anything is unpacked from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.images import busybox

REPO = Path(__file__).resolve().parents[2]
FETCH_DEB = REPO / "scripts" / "fetch-deb"
SERVICES_DIR = Path(os.environ.get("CRI_SERVICES_DIR", "/var/tmp/cri-conformance"))


def fetch_deb(*args: str, services_dir: Path = SERVICES_DIR) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CRI_SERVICES_DIR": str(services_dir)}
    return subprocess.run(
        [str(FETCH_DEB), *args], capture_output=True, text=True, env=environment, timeout=120
    )


@pytest.fixture(scope="module")
def fetched() -> tuple[Path, str]:
    """The containerd 2.1 .deb that scripts/services fetched, and its PACKAGE=VERSION."""
    debs = sorted((SERVICES_DIR / "debs").glob("containerd_2.1.*.deb"))
    assert debs, f"no containerd 2.1 .deb in {SERVICES_DIR}/debs: run scripts/services start"
    package, version, _ = debs[-1].name.split("_")
    return debs[-1], f"{package}={version.replace('%3a', ':')}"


def tampered_copy(deb: Path, where: Path) -> Path:
    """The .deb with one byte changed, under the same name."""
    copy = where / deb.name
    shutil.copyfile(deb, copy)
    with copy.open("r+b") as file:
        file.seek(4096)
        byte = file.read(1)
        file.seek(4096)
        file.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_verify_accepts_the_fetched_deb(fetched: tuple[Path, str]) -> None:
    deb, package = fetched
    done = fetch_deb("verify", str(deb), package)
    assert done.returncode == 0, done.stderr


def test_verify_refuses_a_deb_with_one_byte_changed(
    fetched: tuple[Path, str], tmp_path: Path
) -> None:
    deb, package = fetched
    done = fetch_deb("verify", str(tampered_copy(deb, tmp_path)), package)
    assert done.returncode == 1
    assert f"but apt's signed index gives {package} sha256" in done.stderr


def test_fetch_refuses_a_tampered_cached_deb_and_unpacks_nothing(
    fetched: tuple[Path, str], tmp_path: Path
) -> None:
    deb, _ = fetched
    shutil.copytree(SERVICES_DIR / "apt", tmp_path / "apt", symlinks=True)
    (tmp_path / "apt" / "lists" / ".updated").touch()  # fresh: no network
    (tmp_path / "debs").mkdir()
    tampered_copy(deb, tmp_path / "debs")
    done = fetch_deb("fetch", "containerd", "2.1", "sid", services_dir=tmp_path)
    assert done.returncode == 1, done.stdout
    assert "but apt's signed index gives" in done.stderr
    assert "refusing" in done.stderr
    unpacked = [path.name for path in (tmp_path / "debs").iterdir() if path.is_dir()]
    assert unpacked == []


def test_exact_fetches_a_foreign_architecture_without_touching_dpkg() -> None:
    """The arm64 busybox-static of the test images, on this amd64 machine."""
    done = fetch_deb("exact", busybox.PACKAGE, busybox.VERSION, busybox.SUITE, "arm64")
    assert done.returncode == 0, done.stderr
    binary = (Path(done.stdout.strip()) / "bin" / "busybox").read_bytes()
    assert int.from_bytes(binary[18:20], "little") == 0xB7, "not an AArch64 ELF"
    foreign = subprocess.run(
        ["dpkg", "--print-foreign-architectures"], capture_output=True, text=True, check=True
    )
    assert "arm64" not in foreign.stdout, "the system's dpkg was told about arm64"
