"""The guest's static helper programs, compiled from the C sources in ``guest/``.

The guest has busybox and nothing else; where busybox lacks what the agent needs (a
pseudo-terminal: ``guest/ptyrun.c`` says why), a small C program is compiled here with the
host's ``gcc -static`` (``scripts/services microvm`` installs gcc and libc6-dev) and put in the
initramfs. The build is reproducible (no build id, stripped, fixed flags: the same source and
compiler give the same bytes) and cached: the binary is named by the hash of its source, flags
and compiler version, and built again only when one of them changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from reference_shim.errors import BackendUnavailable

FLAGS = ("-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=none")
INSTALL_HINT = "run `scripts/services microvm` (as root) to install gcc and libc6-dev"


def _source(name: str) -> bytes:
    guest = resources.files("reference_shim.backends.microvm").joinpath("guest")
    return guest.joinpath(f"{name}.c").read_bytes()


def _compiler_version() -> str:
    if shutil.which("gcc") is None:
        raise BackendUnavailable(f"no gcc to build the guest's helpers; {INSTALL_HINT}")
    return subprocess.run(
        ["gcc", "-dumpfullversion"], capture_output=True, text=True, check=True
    ).stdout.strip()


def static_program(name: str, folder: Path) -> Path:
    """The static binary of ``guest/NAME.c``, built into ``folder`` unless already there."""
    source = _source(name)
    key = hashlib.sha256(source + " ".join(FLAGS).encode() + _compiler_version().encode())
    binary = folder / f"{name}-{key.hexdigest()[:16]}"
    if binary.exists():
        return binary
    folder.mkdir(parents=True, exist_ok=True)
    source_file = folder / f"{name}.c"
    source_file.write_bytes(source)
    partial = binary.with_suffix(".partial")
    built = subprocess.run(
        ["gcc", *FLAGS, "-o", str(partial), str(source_file)], capture_output=True, text=True
    )
    if built.returncode != 0:
        raise BackendUnavailable(f"gcc could not build the guest's {name}: {built.stderr.strip()}")
    partial.replace(binary)
    return binary
