"""Images for the microvm backend, with the image tools the project already uses.

``skopeo copy`` pulls an image (this machine's platform) from its registry into one OCI layout
in the backend's state, ``umoci unpack`` unpacks it once into a root filesystem tree, and every
VM's disk is made from that tree (``disks``). An image's id is its config digest, as
containerd and Docker have it. What CRI asks of an image is kept next to its tree
(``info.json``), so lists and status never read the layout again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reference_shim.backends.base import FsUsage, ImageChanges, ImageInfo
from reference_shim.backends.filesystems import count_inodes
from reference_shim.errors import BackendError, InvalidArgument, NotFound, ShimError

PULL_TIMEOUT_S = 300
_DEFAULT_REGISTRY = "docker.io"


def normalized(reference: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``, as containerd names it."""
    name, _, digest = reference.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = f"{_DEFAULT_REGISTRY}/{name if '/' in name else 'library/' + name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def _repository(name: str) -> str:
    """A normalized reference without its tag or digest."""
    bare = name.partition("@")[0]
    head, _, last = bare.rpartition("/")
    return f"{head}/{last.partition(':')[0]}"


@dataclass(frozen=True)
class StoredImage:
    """An image as pulled: what CRI reports, and what a VM needs of its config."""

    info: ImageInfo
    env: tuple[tuple[str, str], ...]
    working_dir: str

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "info": asdict(self.info)})

    @classmethod
    def from_json(cls, text: str) -> StoredImage:
        document = json.loads(text)
        info = document.pop("info")
        for key in ("repo_tags", "repo_digests", "entrypoint", "cmd"):
            info[key] = tuple(info[key])
        env = tuple((str(k), str(v)) for k, v in document["env"])
        return cls(ImageInfo(**info), env, str(document["working_dir"]))


# skopeo exits 1 for every failure; its message says whose fault it is. Each entry is a phrase
# of such a message, seen on skopeo 1.9 (Debian 12), and the shim's error for it; any other
# failure (the registry unreachable, a tool missing) stays INTERNAL with skopeo's words.
SKOPEO_REFUSALS: tuple[tuple[str, type[ShimError]], ...] = (
    # The registry holds no such repository, tag or digest (its answer to the manifest GET).
    ("manifest unknown", NotFound),
    ("name unknown", NotFound),
    # The reference does not parse (upper case, a bad tag, an empty part).
    ("invalid reference format", InvalidArgument),
)


def _refusal(what: str, message: str) -> ShimError:
    for phrase, error in SKOPEO_REFUSALS:
        if phrase in message:
            return error(f"{what}: {message}")
    return BackendError(f"{what}: {message}")


def _run(what: str, argv: list[str], timeout: float) -> bytes:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackendError(f"{what}: {error}") from error
    if done.returncode != 0:
        raise _refusal(what, done.stderr.decode(errors="replace").strip())
    return done.stdout


class MicrovmImages:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._layout = folder / "layout"
        self._lock = threading.Lock()

    def mountpoint(self) -> str:
        return str(self.folder)

    def _image_dir(self, image_id: str) -> Path:
        return self.folder / "images" / image_id.removeprefix("sha256:")

    def rootfs(self, image_id: str) -> Path:
        """The unpacked root filesystem tree of an image this backend holds."""
        tree = self._image_dir(image_id) / "bundle" / "rootfs"
        if not tree.is_dir():
            raise NotFound(f"image {image_id} not found")
        return tree

    def stored(self, image_id: str) -> StoredImage | None:
        try:
            return StoredImage.from_json((self._image_dir(image_id) / "info.json").read_text())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _blob(self, digest: str) -> dict[str, Any]:
        algorithm, _, hexdigest = digest.partition(":")
        return dict(json.loads((self._layout / "blobs" / algorithm / hexdigest).read_bytes()))

    def pull(self, reference: str, username: str, password: str) -> ImageInfo:
        name = normalized(reference)
        tag = "pull-" + hashlib.sha256(name.encode()).hexdigest()[:32]
        credentials = ["--src-creds", f"{username}:{password}"] if username or password else []
        digest_file = self.folder / f"{tag}.digest"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            # The repo digest is the digest of what the registry serves for the reference (an
            # image index for a multi-platform tag), as containerd reports it; skopeo's
            # --digestfile names the one platform's manifest it copied.
            served = _run(
                f"inspect {reference}",
                ["skopeo", "inspect", "--raw", "--tls-verify=false", *credentials,
                 f"docker://{name}"],
                PULL_TIMEOUT_S,
            )  # fmt: skip
            repo_digest = "sha256:" + hashlib.sha256(served).hexdigest()
            _run(
                f"pull {reference}",
                ["skopeo", "copy", "-q", "--src-tls-verify=false", *credentials,
                 "--digestfile", str(digest_file), f"docker://{name}", f"oci:{self._layout}:{tag}"],
                PULL_TIMEOUT_S,
            )  # fmt: skip
            manifest_digest = digest_file.read_text().strip()
            digest_file.unlink()
            manifest = self._blob(manifest_digest)
            image_id = str(manifest["config"]["digest"])
            config = self._blob(image_id)
            run = config.get("config") or {}
            folder = self._image_dir(image_id)
            if not (folder / "bundle" / "rootfs").is_dir():
                shutil.rmtree(folder / "bundle", ignore_errors=True)
                folder.mkdir(parents=True, exist_ok=True)
                _run(
                    f"unpack {reference}",
                    ["umoci", "unpack", "--image", f"{self._layout}:{tag}", str(folder / "bundle")],
                    PULL_TIMEOUT_S,
                )
            before = self.stored(image_id)
            repository = _repository(name)
            tags = {
                *(before.info.repo_tags if before else ()),
                *([name] if "@" not in name else []),
            }
            digests = {
                *(before.info.repo_digests if before else ()),
                f"{repository}@{repo_digest}",
            }
            size = sum(int(layer["size"]) for layer in manifest.get("layers", []))
            env = tuple(
                (key, value)
                for key, _, value in (str(entry).partition("=") for entry in run.get("Env") or [])
            )
            stored = StoredImage(
                ImageInfo(
                    id=image_id, repo_tags=tuple(sorted(tags)), repo_digests=tuple(sorted(digests)),
                    size=size, user=str(run.get("User") or ""),
                    entrypoint=tuple(run.get("Entrypoint") or ()), cmd=tuple(run.get("Cmd") or ()),
                ),
                env, str(run.get("WorkingDir") or ""),
            )  # fmt: skip
            (folder / "info.json").write_text(stored.to_json())
            return stored.info

    def _all(self) -> list[StoredImage]:
        found = (self.stored(path.name) for path in (self.folder / "images").glob("*"))
        return [image for image in found if image is not None]

    def get(self, reference: str) -> ImageInfo | None:
        """By id (``sha256:...`` or its hex), by name, or by ``repo@digest``."""
        bare = reference.removeprefix("sha256:")
        name = normalized(reference) if "/" in reference or ":" not in reference else reference
        for image in self._all():
            info = image.info
            if bare == info.id.removeprefix("sha256:") or name in info.repo_tags:
                return info
            if reference in info.repo_digests or name in info.repo_digests:
                return info
        return None

    def list_images(self) -> list[ImageInfo]:
        return [image.info for image in self._all()]

    def remove(self, image_id: str) -> None:
        """Forget the image and its tree; the layout's blobs stay (shared layers, cached)."""
        with self._lock:
            shutil.rmtree(self._image_dir(image_id), ignore_errors=True)

    def watch_images(self, changes: ImageChanges, stop: threading.Event) -> None:
        """Only the shim changes this store, but it reports nothing: the shim asks it on every
        image call (reading ``info.json`` files, no tool run)."""
        stop.wait()

    def fs_usage(self) -> FsUsage:
        used = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return FsUsage(str(self.folder), used, count_inodes(self.folder))
