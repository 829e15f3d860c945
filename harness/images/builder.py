"""Build recipe images with umoci into OCI layouts, reproducibly.

The same recipe and the same busybox give the same manifest digest on every build and
machine: every file gets a fixed mtime, the config and history carry fixed dates, and umoci
writes tar entries in sorted order. Tests can therefore pull images by digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.images.recipes import Recipe

BUSYBOX = Path("/bin/busybox")
EPOCH = "1970-01-01T00:00:00Z"
BASE_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh",
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
)
BASE_GROUP = ("root:x:0:", "nogroup:x:65534:")
CACHE_ENV = "CRI_CONFORMANCE_IMAGE_CACHE"


class BuildError(Exception):
    """A tool failed while building an image; the message carries its stderr."""


@dataclass(frozen=True)
class BuiltImage:
    """One recipe built into an OCI layout; all its tags share one manifest."""

    recipe: Recipe
    layout: Path
    manifest_digest: str
    config_digest: str

    @property
    def tags(self) -> tuple[str, ...]:
        return self.recipe.tags


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cri-conformance" / "images"


def run_tool(*args: str) -> str:
    try:
        result = subprocess.run(args, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise BuildError(
            f"{args[0]} is not installed: run scripts/services install (Debian package "
            f"{'busybox-static' if 'busybox' in args[0] else args[0]})"
        ) from error
    if result.returncode != 0:
        raise BuildError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def busybox_applets(busybox: Path) -> list[str]:
    names = run_tool(str(busybox), "--list").split()
    return sorted(name for name in names if name != "busybox")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(path: Path, content: str, mode: int, uid: int = 0, gid: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)
    if os.geteuid() == 0:
        os.chown(path, uid, gid)


def populate_rootfs(rootfs: Path, recipe: Recipe, busybox: Path) -> None:
    """Lay out busybox, its applets, the account files and the recipe's own files."""
    for directory in ("bin", "etc", "root", "proc", "sys", "dev", "var", "home"):
        (rootfs / directory).mkdir(mode=0o755, exist_ok=True)
    (rootfs / "tmp").mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    shutil.copyfile(busybox, rootfs / "bin" / "busybox")
    (rootfs / "bin" / "busybox").chmod(0o755)
    for applet in busybox_applets(busybox):
        link = rootfs / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    _write(rootfs / "etc" / "passwd", "\n".join((*BASE_PASSWD, *recipe.passwd)) + "\n", 0o644)
    _write(rootfs / "etc" / "group", "\n".join((*BASE_GROUP, *recipe.group)) + "\n", 0o644)
    if recipe.workdir:
        (rootfs / recipe.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for item in recipe.files:
        _write(rootfs / item.path, item.content, item.mode, item.uid, item.gid)
    for path in [rootfs, *rootfs.rglob("*")]:
        os.utime(path, (0, 0), follow_symlinks=False)


def _config_args(recipe: Recipe) -> list[str]:
    args = ["--no-history", "--created", EPOCH, "--author", "cri-conformance"]
    args += [f"--config.entrypoint={part}" for part in recipe.entrypoint]
    args += [f"--config.cmd={part}" for part in recipe.cmd]
    args += [f"--config.env={entry}" for entry in recipe.env]
    args += [f"--config.exposedports={port}" for port in recipe.exposed_ports]
    args += [f"--config.label={key}={value}" for key, value in sorted(recipe.labels.items())]
    if recipe.user:
        args.append(f"--config.user={recipe.user}")
    if recipe.workdir:
        args.append(f"--config.workingdir={recipe.workdir}")
    return args


def _read_digests(layout: Path) -> tuple[str, str]:
    index = json.loads((layout / "index.json").read_text())
    manifest_digest: str = index["manifests"][0]["digest"]
    blob = layout / "blobs" / "sha256" / manifest_digest.removeprefix("sha256:")
    config_digest: str = json.loads(blob.read_text())["config"]["digest"]
    return manifest_digest, config_digest


def build_layout(recipe: Recipe, layout: Path, busybox: Path = BUSYBOX) -> BuiltImage:
    """Build ``recipe`` into a fresh OCI layout at ``layout``."""
    first, *others = recipe.tags
    image = f"{layout}:{first}"
    with tempfile.TemporaryDirectory(prefix="cri-image-") as scratch:
        bundle = Path(scratch) / "bundle"
        rootless = [] if os.geteuid() == 0 else ["--rootless"]
        run_tool("umoci", "init", "--layout", str(layout))
        run_tool("umoci", "new", "--image", image)
        run_tool("umoci", "unpack", *rootless, "--image", image, str(bundle))
        populate_rootfs(bundle / "rootfs", recipe, busybox)
        run_tool(
            "umoci",
            "repack",
            "--image",
            image,
            "--history.created",
            EPOCH,
            "--history.created_by",
            f"cri-conformance recipe {recipe.name}",
            str(bundle),
        )
    run_tool("umoci", "config", "--image", image, *_config_args(recipe))
    for tag in others:
        run_tool("umoci", "tag", "--image", image, tag)
    run_tool("umoci", "gc", "--layout", str(layout))
    manifest_digest, config_digest = _read_digests(layout)
    return BuiltImage(recipe, layout, manifest_digest, config_digest)


def build_cached(
    recipe: Recipe, cache_dir: Path | None = None, busybox: Path = BUSYBOX
) -> BuiltImage:
    """Build once per recipe content and busybox binary; later calls reuse the layout."""
    if not busybox.exists():
        raise BuildError(f"{busybox} is missing: install the Debian package busybox-static")
    key = hashlib.sha256(f"{recipe.fingerprint()}:{_sha256_file(busybox)}".encode()).hexdigest()
    cache = cache_dir or default_cache_dir()
    layout = cache / f"{recipe.name}-{key[:16]}"
    if (layout / "index.json").exists():
        manifest_digest, config_digest = _read_digests(layout)
        return BuiltImage(recipe, layout, manifest_digest, config_digest)
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{recipe.name}-", dir=cache))
    try:
        built = build_layout(recipe, staging / "layout", busybox)
        try:
            (staging / "layout").rename(layout)
        except OSError:
            if not (layout / "index.json").exists():
                raise
        return BuiltImage(recipe, layout, built.manifest_digest, built.config_digest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
