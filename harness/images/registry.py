"""The run's OCI registry: its address, whether it answers, and pushing built images into it.

Tests never touch the internet: when no ``--cri-image-registry`` is given, the harness serves the
test images from Debian's ``docker-registry`` on 127.0.0.1 (local_registry.py starts one when
none runs). Runtimes treat loopback registries as plain HTTP (containerd needs a mirror entry for
it; see scripts/services). The wheel's build imports this module to publish nothing but to name
images, so it needs the standard library only.
"""

from __future__ import annotations

import fcntl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.images import oci
from harness.images.builder import BuiltImage, reference
from harness.images.distribution import PushError, Repository, push_tags

DEFAULT_ADDRESS = "127.0.0.1:5000"
REPOSITORY_PREFIX = "cri-conformance"


class RegistryError(Exception):
    """The registry cannot be started or reached."""


def answers(address: str, timeout: float = 1.0) -> bool:
    """True when an OCI distribution API answers at ``address`` over plain HTTP."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def repository(registry: str, image_name: str) -> str:
    return f"{registry}/{REPOSITORY_PREFIX}/{image_name}"


@contextmanager
def _pushing_alone() -> Iterator[None]:
    """Hold this machine's lock on pushes. Runs side by side (CI's matrix) push the same images
    into one registry, and docker-registry 2.8 races on the same blobs and manifests: a HEAD
    answers 500, a manifest PUT DIGEST_INVALID (7 of 24 pushes, six at once). One lock for
    every registry: a lock file per registry was left behind for each test's private one."""
    with (Path(tempfile.gettempdir()) / "cri-conformance-push.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def push(image: BuiltImage, registry: str) -> list[str]:
    """Put every tag of ``image`` into ``registry``; return the references pushed.

    Straight from the layout over the registry's HTTP API (distribution.py): no tool needed.
    """
    layout = oci.Layout(image.layout)
    top = layout.tags()[reference(image.recipe, image.tags[0])]
    name = repository(registry, image.recipe.name)
    try:
        with _pushing_alone():
            push_tags(layout, Repository(registry, name.split("/", 1)[1]), top, image.tags)
    except PushError as error:
        raise RegistryError(f"pushing {name}: {error}") from error
    return [f"{name}:{tag}" for tag in image.tags]
