"""The microvm backend's user namespaces without a VM: the USERNS line, and the ids a workload
runs as, which must be mapped."""

from __future__ import annotations

from typing import Any

import pytest

from reference_shim.backends.base import IdMapping, SecuritySpec
from reference_shim.backends.microvm import user_namespace
from reference_shim.backends.microvm.launch import Launch
from reference_shim.errors import InvalidArgument

POD_RANGE = (IdMapping(container_id=0, host_id=2621440, length=65536),)
MAPPED = SecuritySpec(uid_mappings=POD_RANGE, gid_mappings=POD_RANGE)


def launch(**fields: Any) -> Launch:
    return Launch(
        argv=("sh",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(), **fields,
    )  # fmt: skip


def test_the_maps_go_to_the_agent_as_extents_before_start() -> None:
    fields = user_namespace.settings(MAPPED, 1000, 1000, (1000, 2000))
    assert fields == {"user_namespace": "0:2621440:65536 0:2621440:65536"}
    lines = launch(**fields).lines()
    assert lines[-2:] == ["USERNS 0:2621440:65536 0:2621440:65536", "START"]
    assert Launch.from_json(launch(**fields).to_json()) == launch(**fields)


def test_no_maps_no_line() -> None:
    assert user_namespace.settings(SecuritySpec(), 0, 0, ()) == {}
    assert not any(line.startswith("USERNS") for line in launch().lines())


@pytest.mark.parametrize(
    ("uid", "gid", "groups", "says"),
    [
        (65536, 0, (), "uid 65536 is not mapped"),
        (0, 70000, (), "gid 70000 is not mapped"),
        (0, 0, (0, 65536), "gid 65536 is not mapped"),
    ],
)
def test_an_id_outside_the_maps_is_refused(
    uid: int, gid: int, groups: tuple[int, ...], says: str
) -> None:
    with pytest.raises(InvalidArgument, match=says) as raised:
        user_namespace.settings(MAPPED, uid, gid, groups)
    assert "0:2621440:65536" in str(raised.value)
