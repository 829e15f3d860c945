"""Where a container's log goes: inside its pod's log directory, and nowhere else.

The shim (root, usually) makes the folders of a log file and writes it itself, so an unchecked
log path is a write anywhere on the host. The kubelet's shapes are a pod ``log_directory`` of
``/var/log/pods/<namespace>_<name>_<uid>`` and a container ``log_path`` of
``<container>/<attempt>.log``: an absolute directory without ``..``, and a relative path that
stays inside it once normalised. Anything else is refused with INVALID_ARGUMENT naming the
field, before any folder is made, and the file's path is kept (and reported by ContainerStatus)
normalised.
"""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

from reference_shim.errors import InvalidArgument


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgument(message)


def pod_log_directory(value: str) -> str:
    """The pod's ``log_directory`` normalised; "" when the pod has none (no container logs)."""
    if not value:
        return ""
    _require("\0" not in value, "log_directory must not contain a NUL character")
    _require(
        value.startswith("/"),
        f"log_directory {value!r} must be an absolute path (the kubelet sends "
        "/var/log/pods/<namespace>_<name>_<uid>)",
    )
    _require(
        ".." not in PurePosixPath(value).parts,
        f"log_directory {value!r} must be normalised: no '..' component",
    )
    return posixpath.normpath(value)


def container_log_file(log_directory: str, log_path: str) -> str:
    """``log_directory/log_path`` normalised, refused unless it is a file inside the directory;
    "" when the container has no ``log_path`` (no log file)."""
    if not log_path:
        return ""
    directory = pod_log_directory(log_directory)  # again: pods stored before it was checked
    _require(
        bool(directory),
        f"log_path {log_path!r} needs the pod's log_directory, and the pod has none",
    )
    _require("\0" not in log_path, "log_path must not contain a NUL character")
    _require(
        not log_path.startswith("/"),
        f"log_path {log_path!r} must be relative to the pod's log_directory "
        "(the kubelet sends <container>/<attempt>.log)",
    )
    joined = posixpath.normpath(posixpath.join(directory, log_path))
    _require(
        joined != directory and PurePosixPath(joined).is_relative_to(directory),
        f"log_path {log_path!r} leaves the pod's log_directory {directory!r}",
    )
    return joined
