"""The static busybox every test image is made of, for each architecture the images support.

The binaries come from one pinned version of Debian's ``busybox-static`` .deb per
architecture, not from the build machine's own ``/bin/busybox``: that way every machine builds
the same bytes (the pinned sha256 below) and so the same image digests. ``scripts/fetch-deb
exact`` downloads each .deb through a project-local apt (checked against apt's signed index)
and unpacks it; building the images therefore needs a checkout and a Debian-like machine,
running them does not (the wheel carries them built).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "busybox-static"
VERSION = "1:1.35.0-4+deb12u1+b1"
SUITE = "bookworm"
# The sha256 of bin/busybox in each architecture's .deb of VERSION.
BINARIES = {
    "amd64": "3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6",
    "arm64": "61781806ad3650b0b9d2b3fc6971e2bffdca967af1a95375abd0578bafff14fb",
}
# The architecture whose binary lists the applets: see applets().
LISTING_ARCHITECTURE = "amd64"
# A folder holding ARCH/bin/busybox for each architecture, instead of fetching the .debs.
BINARIES_ENV = "CRI_CONFORMANCE_BUSYBOX_DIR"
FETCH_DEB = Path(__file__).resolve().parents[2] / "scripts" / "fetch-deb"


class BusyboxError(Exception):
    """The pinned busybox cannot be had; the message says what to do."""


@dataclass(frozen=True)
class Busybox:
    """The pinned binary of each architecture, and the applets they all provide."""

    binaries: dict[str, bytes]
    applets: tuple[str, ...]

    @property
    def architectures(self) -> list[str]:
        return sorted(self.binaries)


def fingerprint() -> str:
    """Changes whenever the binaries would: part of the key of a cached build."""
    return hashlib.sha256(f"{PACKAGE}={VERSION}:{sorted(BINARIES.items())}".encode()).hexdigest()


def _tree(architecture: str) -> Path:
    override = os.environ.get(BINARIES_ENV)
    if override:
        return Path(override) / architecture
    if not FETCH_DEB.exists():
        raise BusyboxError(
            f"building the test images needs {PACKAGE} {VERSION} for {architecture}, which "
            f"scripts/fetch-deb of a cri-conformance checkout downloads (or set {BINARIES_ENV} "
            "to a folder holding ARCH/bin/busybox); the installed package carries them built"
        )
    command = [str(FETCH_DEB), "exact", PACKAGE, VERSION, SUITE, architecture]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BusyboxError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return Path(done.stdout.strip())


def _binary(architecture: str) -> tuple[Path, bytes]:
    path = _tree(architecture) / "bin" / "busybox"
    try:
        content = path.read_bytes()
    except OSError as error:
        raise BusyboxError(f"{PACKAGE} for {architecture}: {error}") from error
    digest = hashlib.sha256(content).hexdigest()
    if digest != BINARIES[architecture]:
        raise BusyboxError(
            f"{path} has sha256 {digest}, not the {BINARIES[architecture]} of "
            f"{PACKAGE} {VERSION} for {architecture}"
        )
    return path, content


def applets(listing_binary: Path) -> tuple[str, ...]:
    """The applet names, from the binary that runs here.

    Only one architecture's binary can run on the build machine, and the arm64 one never does on
    an amd64 one. Debian builds busybox-static from one source and one configuration
    (debian/config/pkg/static) for every architecture, so the binaries of one version provide
    the same applets, and the amd64 binary of the pinned version lists them for all (the
    pinned sha256 makes sure it is that version). The name ``busybox`` is left out: a link by
    that name would replace the binary.
    """
    try:
        done = subprocess.run(
            [str(listing_binary), "--list"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as error:
        raise BusyboxError(
            f"{listing_binary} --list failed ({error}): the applet list comes from the "
            f"{LISTING_ARCHITECTURE} binary, so the images are built on an "
            f"{LISTING_ARCHITECTURE} machine (or one that runs its binaries)"
        ) from error
    return tuple(sorted(name for name in done.stdout.split() if name != "busybox"))


def load() -> Busybox:
    """The pinned binaries, fetched and checked, and their applets."""
    binaries = {}
    listing = None
    for architecture in sorted(BINARIES):
        path, binaries[architecture] = _binary(architecture)
        if architecture == LISTING_ARCHITECTURE:
            listing = path
    assert listing is not None
    return Busybox(binaries, applets(listing))
