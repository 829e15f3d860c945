"""What an image store uses of the host's filesystem, for ImageFsInfo.

Neither Docker nor Apple's image service reports an inode figure, so the backends count the
files of their image store themselves, as containerd does for its snapshotter.
"""

from __future__ import annotations

import os
from pathlib import Path


def count_inodes(root: Path) -> int:
    """Every file, folder and link below ``root`` (itself included); 0 if it is not here."""
    if not root.is_dir():
        return 0
    count = 1
    for _, folders, files in os.walk(root):
        count += len(folders) + len(files)
    return count
