"""Ambient capabilities in a microvm guest: what the PRIVS line carries, and what the launcher
(``guest/launch.c``) makes of it in a process that then runs as another uid."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from linux_capabilities import CAPABILITIES
from reference_shim.backends.base import SecuritySpec
from reference_shim.backends.microvm import privileges
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.static_build import static_program
from reference_shim.errors import InvalidArgument

KILL = 1 << CAPABILITIES.index("KILL")
NET_BIND_SERVICE = 1 << CAPABILITIES.index("NET_BIND_SERVICE")


def _settings(security: SecuritySpec) -> dict[str, object]:
    return privileges.settings(1000, 1000, security, lambda name: [])


@pytest.mark.parametrize(
    ("security", "ambient"),
    [
        (SecuritySpec(ambient_capabilities=("NET_BIND_SERVICE",)), NET_BIND_SERVICE),
        (SecuritySpec(ambient_capabilities=("KILL",), cap_drop=("ALL",)), KILL),
        (SecuritySpec(ambient_capabilities=("KILL",), cap_drop=("KILL",)), 0),
        (SecuritySpec(), 0),
    ],
    ids=["added-to-every-set", "kept-when-dropping-all", "dropped-by-name", "none"],
)
def test_an_ambient_capability_is_held_and_raised_unless_dropped_by_name(
    security: SecuritySpec, ambient: int
) -> None:
    fields = _settings(security)
    assert fields["ambient_capabilities"] == ambient
    assert isinstance(fields["capabilities"], int)
    assert fields["capabilities"] & ambient == ambient  # in the bounding set too


def test_the_privileges_line_carries_the_ambient_mask_after_the_bounding_one() -> None:
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=1000, gid=1000, hostname="",
        readonly_rootfs=False, readonly_files=(),
        **_settings(SecuritySpec(ambient_capabilities=("KILL",), cap_drop=("ALL",))),  # type: ignore[arg-type]
    )  # fmt: skip
    privs = next(line for line in launch.lines() if line.startswith("PRIVS "))
    assert privs.split()[2] == f"{KILL:x}:{KILL:x}"
    assert Launch.from_json(launch.to_json()) == launch


def test_an_ambient_name_that_is_no_capability_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="NOT_A_CAP"):
        _settings(SecuritySpec(ambient_capabilities=("NOT_A_CAP",)))


@pytest.mark.skipif(os.geteuid() != 0, reason="the launcher chroots and sets ids: root only")
@pytest.mark.parametrize(("word", "held"), [("a80425fb", 0), (f"a80425fb:{KILL:x}", KILL)])
def test_the_launcher_gives_another_uid_its_ambient_capabilities_across_exec(
    tmp_path: Path, word: str, held: int
) -> None:
    launcher = static_program("launch", tmp_path / "build")
    ran = subprocess.run(
        [launcher, "/", "/", "65534", "65534", "-", word, "-", "--", "/bin/cat", "cat",
         "/proc/self/status"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    sets = dict(line.split(":\t") for line in ran.stdout.splitlines() if line.startswith("Cap"))
    for name in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        assert int(sets[name], 16) == held, f"{name} {sets[name]}"
