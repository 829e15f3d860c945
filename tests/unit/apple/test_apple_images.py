"""The image filesystem the apple backend reports: Apple's image service keeps blobs and
unpacked snapshots under its app root, and the backend counts them (the CLI has no figure)."""

from __future__ import annotations

from apple_double import BUSYBOX, CliDouble
from apple_shims import Shims

from reference_shim.backends.apple.backend import AppleBackend

# content/, content/ingest, content/blobs, content/blobs/sha256, snapshots/, snapshots/ingest
EMPTY_STORE = 6
# blobs: the index, the host's manifest and its layer; its snapshot folder and two files in it
ONE_IMAGE = 3 + 3
OTHER = "127.0.0.1:5000/cri-conformance/other:1.0"


def test_inodes_used_counts_the_image_services_files(
    backend: AppleBackend, double: CliDouble
) -> None:
    backend.images.pull(BUSYBOX, "", "")
    usage = backend.images.fs_usage()
    assert usage.mountpoint == f"{double.root}/"
    assert usage.inodes_used == EMPTY_STORE + ONE_IMAGE
    double.publish(OTHER, 100)  # shares no blob with BUSYBOX
    image = backend.images.pull(OTHER, "", "")
    assert backend.images.fs_usage().inodes_used == EMPTY_STORE + 2 * ONE_IMAGE
    backend.images.remove(image.id)
    assert backend.images.fs_usage().inodes_used == EMPTY_STORE + ONE_IMAGE


def test_image_fs_info_over_grpc_reports_the_inodes(shims: Shims) -> None:
    client = shims.start()
    client.pull_image(BUSYBOX)
    [filesystem] = client.image_fs_info().image_filesystems
    assert filesystem.inodes_used.value == EMPTY_STORE + ONE_IMAGE
    assert filesystem.used_bytes.value > 0
