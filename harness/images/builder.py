"""Build every recipe into one OCI layout, for linux/amd64 and linux/arm64, reproducibly.

Each image is two layers: the busybox base of its architecture (the binary, its applet links
and the usual top-level folders), shared by every recipe, and a small layer of the recipe's own
files (``/etc/passwd``, ``/etc/group``, its workdir and files), shared by both architectures.
Each tag names an image index over the two platform manifests, so a runtime pulls the one
that fits its machine (Apple silicon runs arm64).

The same recipes and the same pinned busybox give the same digests on every build and
machine: the tars are written byte by byte from the content (``tarball.py``), JSON with sorted
keys, every date is the epoch. Layers are stored uncompressed: gzip's bytes depend on the
zlib the machine has (zlib-ng, for one, compresses differently), which would change the
digests; the wheel, a zip, compresses the layout anyway.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.images import busybox as busybox_pin
from harness.images import oci, tarball
from harness.images.busybox import Busybox
from harness.images.recipes import Recipe

EPOCH = "1970-01-01T00:00:00Z"
OS = "linux"
BASE_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh",
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
)
BASE_GROUP = ("root:x:0:", "nogroup:x:65534:")
BASE_DIRECTORIES = {
    name: 0o755 for name in ("bin", "dev", "etc", "home", "proc", "root", "sys", "var")
} | {"tmp": 0o1777}
# Bumped whenever the builder would write other bytes for the same recipes.
FORMAT = "2"
CACHE_ENV = "CRI_CONFORMANCE_IMAGE_CACHE"
# Machine names (platform.machine()) by OCI architecture.
MACHINES = {"amd64": ("x86_64", "amd64"), "arm64": ("aarch64", "arm64")}


class BuildError(Exception):
    """The images cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class BuiltImage:
    """One recipe in the layout: every tag names ``digest``, an index over the platforms."""

    recipe: Recipe
    layout: Path
    digest: str
    config_digests: dict[str, str]  # by architecture: the image id a runtime reports

    @property
    def tags(self) -> tuple[str, ...]:
        return self.recipe.tags

    @property
    def config_digest(self) -> str:
        """The image id on this machine's architecture (the runtime under test runs here)."""
        return self.config_digests[host_architecture()]


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cri-conformance" / "images"


def host_architecture() -> str:
    machine = platform.machine().lower()
    for architecture, names in MACHINES.items():
        if machine in names:
            return architecture
    raise BuildError(f"the test images exist for {', '.join(MACHINES)}, not for {machine}")


def layout_key(recipes: dict[str, Recipe]) -> str:
    """Names a layout by everything its bytes depend on."""
    parts = [FORMAT, busybox_pin.fingerprint(), *(r.fingerprint() for r in recipes.values())]
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:16]


def reference(recipe: Recipe, tag: str) -> str:
    """The name of one tag in the layout's index.json (one layout holds every recipe)."""
    return f"{recipe.name}:{tag}"


def _with_parents(entries: dict[str, tarball.Entry]) -> list[tarball.Entry]:
    """Every entry plus a folder entry for each parent, parents first, sorted by path."""
    for path in list(entries):
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            mode = BASE_DIRECTORIES.get(parent, 0o755)
            entries.setdefault(parent, tarball.directory(parent, mode))
    return [entries[path] for path in sorted(entries, key=lambda p: p.split("/"))]


def base_layer(binary: bytes, applets: tuple[str, ...]) -> bytes:
    entries = {name: tarball.directory(name, mode) for name, mode in BASE_DIRECTORIES.items()}
    entries["bin/busybox"] = tarball.regular("bin/busybox", binary, 0o755)
    for applet in applets:
        entries[f"bin/{applet}"] = tarball.symlink(f"bin/{applet}", "busybox")
    return tarball.archive(_with_parents(entries))


def recipe_layer(recipe: Recipe) -> bytes:
    passwd = "\n".join((*BASE_PASSWD, *recipe.passwd)) + "\n"
    group = "\n".join((*BASE_GROUP, *recipe.group)) + "\n"
    entries = {
        "etc/passwd": tarball.regular("etc/passwd", passwd.encode()),
        "etc/group": tarball.regular("etc/group", group.encode()),
    }
    workdir = recipe.workdir.strip("/")
    if workdir:
        entries.setdefault(workdir, tarball.directory(workdir))
    for item in recipe.files:
        content = item.content.encode()
        entries[item.path] = tarball.regular(item.path, content, item.mode, item.uid, item.gid)
    return tarball.archive(_with_parents(entries))


def image_config(recipe: Recipe, architecture: str, layers: list[bytes]) -> dict[str, object]:
    config: dict[str, object] = {
        "Entrypoint": list(recipe.entrypoint),
        "Cmd": list(recipe.cmd),
        "Env": list(recipe.env),
        "ExposedPorts": {port: {} for port in recipe.exposed_ports},
        "Labels": dict(recipe.labels),
        "User": recipe.user,
        "WorkingDir": recipe.workdir,
    }
    return {
        "architecture": architecture,
        "os": OS,
        "created": EPOCH,
        "author": "cri-conformance",
        "config": {key: value for key, value in config.items() if value},  # as Go's omitempty
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers],
        },
        "history": [
            {"created": EPOCH, "created_by": f"{busybox_pin.PACKAGE} {busybox_pin.VERSION}"},
            {"created": EPOCH, "created_by": f"cri-conformance recipe {recipe.name}"},
        ],
    }


def build_layout(recipes: dict[str, Recipe], root: Path, busybox: Busybox) -> None:
    """Write every recipe, on every architecture of ``busybox``, into a new layout at ``root``."""
    layout = oci.Layout(root)
    bases = {
        architecture: base_layer(binary, busybox.applets)
        for architecture, binary in busybox.binaries.items()
    }
    base_blobs = {arch: layout.add_blob(oci.LAYER, base) for arch, base in bases.items()}
    tags: dict[str, oci.Descriptor] = {}
    for recipe in recipes.values():
        own = recipe_layer(recipe)
        own_blob = layout.add_blob(oci.LAYER, own)
        platforms = []
        for architecture in busybox.architectures:
            config = layout.add_json(
                oci.CONFIG, image_config(recipe, architecture, [bases[architecture], own])
            )
            manifest = {
                "schemaVersion": 2,
                "mediaType": oci.MANIFEST,
                "config": config.as_json(),
                "layers": [base_blobs[architecture].as_json(), own_blob.as_json()],
            }
            platforms.append(
                layout.add_json(oci.MANIFEST, manifest).as_json(
                    platform={"architecture": architecture, "os": OS}
                )
            )
        index = layout.add_json(
            oci.INDEX, {"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": platforms}
        )
        tags.update({reference(recipe, tag): index for tag in recipe.tags})
    layout.write_index(tags)


def read_layout(recipes: dict[str, Recipe], root: Path) -> dict[str, BuiltImage]:
    """The images of ``recipes`` in the layout at ``root``, with their digests."""
    layout = oci.Layout(root)
    tags = layout.tags()
    images = {}
    for recipe in recipes.values():
        descriptor = tags[reference(recipe, recipe.tags[0])]
        index = layout.read_json(descriptor.digest)
        configs = {
            entry["platform"]["architecture"]: layout.read_json(entry["digest"])["config"]["digest"]
            for entry in index["manifests"]
        }
        images[recipe.name] = BuiltImage(recipe, root, descriptor.digest, configs)
    return images


def build_into(recipes: dict[str, Recipe], root: Path) -> dict[str, BuiltImage]:
    """Build into ``root`` unless a layout of the same key is there; readers never see half
    a layout (it is written aside and renamed into place)."""
    if not oci.Layout(root).exists():
        try:
            busybox = busybox_pin.load()
        except busybox_pin.BusyboxError as error:
            raise BuildError(str(error)) from error
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
        try:
            build_layout(recipes, staging / "layout", busybox)
            try:
                (staging / "layout").rename(root)
            except OSError:
                if not oci.Layout(root).exists():  # another process won the race: fine
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return read_layout(recipes, root)
