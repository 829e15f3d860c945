"""The microvm backend's mounts from the host (``shares``) and its agent lines, without a VM."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from reference_shim.backends.base import ImageMountSpec, MountSpec
from reference_shim.backends.microvm import recovery, shares
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.machine import Machine
from reference_shim.backends.microvm.qemu import VmFiles
from reference_shim.errors import InvalidArgument, Unimplemented
from reference_shim.timestamps import now_ns


def test_a_bidirectional_mount_is_refused_as_impossible_across_a_vm() -> None:
    with pytest.raises(Unimplemented, match=r"Bidirectional of /x.*VM boundary"):
        shares.plan([MountSpec("/", "/x", propagation="rshared")])


def test_shares_put_parents_first_and_keep_what_each_mount_asks(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("f")
    planned = shares.plan([
        MountSpec(str(tmp_path), "/a/b/c", readonly=True),
        MountSpec(str(tmp_path / "file"), "/a", propagation="rslave"),
    ])  # fmt: skip
    assert [(s.name, s.container_path) for s in planned] == [("0", "/a"), ("1", "/a/b/c")]
    first, second = planned
    assert (first.is_file, first.follows_host, first.readonly) == (True, True, False)
    assert (second.is_file, second.follows_host, second.readonly) == (False, False, True)
    assert [shares.Share.from_json(json.loads(json.dumps(s.to_json()))) for s in planned] == list(
        planned
    )


def test_the_daemon_namespace_binds_each_share_private_unless_it_follows_the_host(
    tmp_path: Path,
) -> None:
    files = shares.ShareFiles(VmFiles(tmp_path / "vm"))
    planned = (
        shares.Share("0", "/host a", "/a", readonly=True, follows_host=False, is_file=False),
        shares.Share("1", "/host/b", "/b", readonly=False, follows_host=True, is_file=False),
    )
    lines = shares._namespace_script(files, planned).splitlines()
    zero, one = files.staging / "0", files.staging / "1"
    assert lines[:5] == [
        "set -e",
        f"mount --rbind '/host a' {zero}",
        f"mount --make-rprivate {zero}",
        f"mount -o remount,bind,ro {zero}",
        f"mount --rbind /host/b {one}",
    ]
    assert lines[5].startswith(f"exec {shares.VIRTIOFSD} --socket-path={files.socket}")


def test_mounts_become_mount_lines_before_start_and_round_trip_as_json() -> None:
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(),
        mounts=(("0", "/data dir", "ro"), ("1", "/etc/f", "rw"), ("2", "/r", "rro")),
    )  # fmt: skip
    lines = launch.lines()
    mounts = [line.split(" ") for line in lines if line.startswith("MOUNT ")]
    decoded = [
        (base64.b64decode(n).decode(), base64.b64decode(p).decode(), m) for _, n, p, m in mounts
    ]
    assert decoded == [("0", "/data dir", "ro"), ("1", "/etc/f", "rw"), ("2", "/r", "rro")]
    assert lines[-1] == "START"
    assert Launch.from_json(json.loads(json.dumps(launch.to_json()))) == launch


def test_a_vm_whose_qemu_ended_without_a_shim_reads_its_kept_exit_or_255(tmp_path: Path) -> None:
    files = VmFiles(tmp_path / "vm")
    files.folder.mkdir()
    assert recovery.reattach(files, lambda: None) is None  # no QEMU runs
    lost = json.loads(files.exit.read_text())
    assert lost["exit_code"] == 255
    assert "no shim process watched it" in lost["error"]
    files.reported.write_text(json.dumps({"exit_code": 3, "finished_at": 5, "error": ""}))
    assert recovery.reattach(files, lambda: None) is None
    assert json.loads(files.exit.read_text())["exit_code"] == 3


@pytest.mark.parametrize(
    ("lines", "code", "ago_s"),
    [
        (["EXIT 4", "STATUS exited 4 150"], 4, 1.5),  # held while no shim ran: its real time
        (["EXIT 4", "STATUS running 12"], 4, 0.0),  # exited just after the agent looked
        (["STATUS running 12", "EXIT 9"], 9, 0.0),  # exits later, as usual
    ],
)
def test_a_reattached_machine_keeps_the_exit_the_agent_tells(
    tmp_path: Path, lines: list[str], code: int, ago_s: float
) -> None:
    files = VmFiles(tmp_path / "vm")
    files.folder.mkdir()
    machine = Machine(files, lambda: None)
    machine._asking = True  # as reattach leaves it once it has sent STATUS
    before = now_ns()
    machine._read_ctl([line + "\n" for line in lines], None)
    kept = json.loads(files.reported.read_text())
    assert kept["exit_code"] == code
    assert before - ago_s * 1e9 - 1e9 < kept["finished_at"] <= now_ns() - ago_s * 1e9


def test_a_reattached_vm_still_booting_is_killed_with_the_reason(tmp_path: Path) -> None:
    machine = Machine(VmFiles(tmp_path / "vm"), lambda: None)
    machine._asking = True
    machine._read_ctl(["STATUS created\n"], None)
    assert "died before its workload started" in machine._error


def test_an_image_volume_is_its_tree_or_folder_read_only_and_never_leaves_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "tree" / "www").mkdir(parents=True)
    volumes = [ImageMountSpec("sha256:a", "/v"), ImageMountSpec("sha256:a", "/w", "/www/")]
    mounts = shares.image_volumes(volumes, lambda image: tmp_path / "tree")
    assert mounts == [
        MountSpec(str(tmp_path / "tree"), "/v", readonly=True),
        MountSpec(str(tmp_path / "tree" / "www"), "/w", readonly=True),
    ]
    for sub_path in ("missing", "../"):
        with pytest.raises(InvalidArgument, match="not a folder in image"):
            shares.image_volumes([ImageMountSpec("sha256:a", "/v", sub_path)], lambda _: tmp_path)
