"""Docker image-store pieces that need no Docker."""

from __future__ import annotations

from pathlib import Path

from reference_shim.backends.filesystems import count_inodes


def test_layer_inodes_count_every_entry_below_the_driver_folder(tmp_path: Path) -> None:
    (tmp_path / "layer" / "diff" / "bin").mkdir(parents=True)
    (tmp_path / "layer" / "diff" / "bin" / "busybox").write_text("")
    (tmp_path / "layer" / "diff" / "bin" / "sh").symlink_to("busybox")
    assert count_inodes(tmp_path) == 6
    assert count_inodes(tmp_path / "missing") == 0
