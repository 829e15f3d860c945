"""The agent's launcher (``guest/launch.c``), built static with the host's C compiler.

It is what puts a workload in its container: the chroot, the bounding set, the groups, the uid
and gid, no_new_privs (the C file says why busybox cannot). It is compiled once per shim state
folder, named by its source's hash, and goes into the initramfs as ``/bin/launch``.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from reference_shim.errors import BackendUnavailable

COMPILER_HINT = "run `scripts/services microvm` (as root): it installs gcc and libc6-dev"


def source() -> bytes:
    return (
        resources.files("reference_shim.backends.microvm").joinpath("guest/launch.c").read_bytes()
    )


def built(folder: Path) -> Path:
    """The static launcher for the current source, compiled into ``folder`` when missing."""
    text = source()
    path = folder / f"launch-{hashlib.sha256(text).hexdigest()[:16]}"
    if path.exists():
        return path
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BackendUnavailable(f"no C compiler for the guest's launcher; {COMPILER_HINT}")
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{secrets.token_hex(4)}.partial")  # VMs may start at once
    compiled = subprocess.run(
        [compiler, "-static", "-Os", "-s", "-x", "c", "-o", str(partial), "-"],
        input=text, capture_output=True, check=False,
    )  # fmt: skip
    if compiled.returncode != 0:
        raise BackendUnavailable(
            f"the guest's launcher did not build ({compiled.stderr.decode(errors='replace')}); "
            f"{COMPILER_HINT}"
        )
    partial.replace(path)
    return path
