"""Headless Chromium for the pages the harness writes (matrix.html, bench.html).

Chromium is the Debian package ``chromium`` (scripts/services install puts it there). The
``chromium`` fixture (tests/integration/conftest.py) gives its command line with a fresh
profile; tests ``run`` it with ``--dump-dom`` or ``--screenshot``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

QUIET = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chromium_command(profile: Path) -> list[str]:
    """A headless Chromium with its profile in ``profile``."""
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: run scripts/services install (as root)"
    return [binary, *QUIET, f"--user-data-dir={profile}"]


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
