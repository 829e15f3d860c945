"""Where the runtime under test listens.

The order follows crictl, so a node already configured for crictl needs no flags:
command-line option, then environment variable, then (ours) the ini setting, then crictl's
config file (``$CRI_CONFIG_FILE``, else ``/etc/crictl.yaml``). When none of them names an
endpoint the caller falls back to the embedded reference shim, and says which runtime sockets
it saw in their usual places, in case one was meant.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness import yaml_text

RUNTIME_ENV = "CONTAINER_RUNTIME_ENDPOINT"
IMAGE_ENV = "IMAGE_SERVICE_ENDPOINT"
CONFIG_ENV = "CRI_CONFIG_FILE"  # crictl's: another config file than /etc/crictl.yaml
CRICTL_CONFIG = Path("/etc/crictl.yaml")
FROM_FLAG = "command line (--cri-endpoint)"
FROM_ENV = f"environment ({RUNTIME_ENV})"
FROM_INI = "ini setting cri_endpoint"
# Where runtimes put their CRI socket by default (containerd, CRI-O, cri-dockerd).
WELL_KNOWN_SOCKETS = (
    Path("/run/containerd/containerd.sock"),
    Path("/run/crio/crio.sock"),
    Path("/var/run/cri-dockerd.sock"),
)


class EndpointError(Exception):
    """An endpoint that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Endpoints:
    """The two CRI services; most runtimes serve both on one socket."""

    runtime: str
    image: str
    source: str

    @property
    def runtime_target(self) -> str:
        return grpc_target(self.runtime)

    @property
    def image_target(self) -> str:
        return grpc_target(self.image)


def normalize(endpoint: str) -> str:
    """Accept ``unix:///path``, ``unix:/path`` and a bare path; return ``unix:///path``."""
    value = endpoint.strip()
    if not value:
        raise EndpointError("empty CRI endpoint: give a unix socket such as unix:///run/x.sock")
    if value.startswith("unix://"):
        path = value[len("unix://") :]
    elif value.startswith("unix:"):
        path = value[len("unix:") :]
    elif "://" in value:
        scheme = value.split("://", 1)[0]
        raise EndpointError(
            f"unsupported CRI endpoint {endpoint!r}: scheme {scheme!r} is not supported, "
            "use a unix socket (unix:///path/to/runtime.sock)"
        )
    else:
        path = value
    if not path.startswith("/"):
        raise EndpointError(
            f"CRI endpoint {endpoint!r} must be an absolute socket path (unix:///path/to/runtime.sock)"
        )
    return "unix://" + path


def socket_path(endpoint: str) -> Path:
    return Path(normalize(endpoint)[len("unix://") :])


def grpc_target(endpoint: str) -> str:
    """grpcio spells an absolute unix socket as ``unix:/abs/path`` or ``unix:///abs/path``."""
    return normalize(endpoint)


def read_crictl_config(path: Path) -> tuple[str | None, str | None]:
    """The runtime and image endpoints of a crictl config file, if it names them."""
    try:
        data = yaml_text.load(path.read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, yaml.YAMLError) as error:
        raise EndpointError(f"cannot read {path}: {error}") from error
    if not isinstance(data, Mapping):
        return None, None
    runtime = data.get("runtime-endpoint") or None
    image = data.get("image-endpoint") or None
    return (str(runtime) if runtime else None, str(image) if image else None)


def crictl_config_file(environ: Mapping[str, str]) -> tuple[Path, str]:
    """crictl's config file and how to name it: ``$CRI_CONFIG_FILE``, else /etc/crictl.yaml."""
    configured = environ.get(CONFIG_ENV)
    if configured:
        return Path(configured), f"{CONFIG_ENV} ({configured})"
    return CRICTL_CONFIG, str(CRICTL_CONFIG)


def resolve(
    runtime_flag: str | None,
    image_flag: str | None,
    environ: Mapping[str, str] | None = None,
    crictl_config: Path | None = None,
    configured: tuple[str | None, str | None] = (None, None),
) -> Endpoints | None:
    """The endpoints to test, or None when nothing names one (use the embedded shim).

    ``configured``: the ini settings' runtime and image endpoints. The image endpoint defaults
    to the runtime endpoint found at the same level or above, as crictl does.
    """
    env = os.environ if environ is None else environ
    sources: list[tuple[str, str | None, str | None]] = [
        (FROM_FLAG, runtime_flag, image_flag),
        (FROM_ENV, env.get(RUNTIME_ENV) or None, env.get(IMAGE_ENV) or None),
        (FROM_INI, *configured),
    ]
    if runtime_flag is None and not env.get(RUNTIME_ENV) and not configured[0]:
        path, name = (
            (crictl_config, str(crictl_config)) if crictl_config else crictl_config_file(env)
        )
        sources.append((name, *read_crictl_config(path)))
    runtime: str | None = None
    image: str | None = None
    source = ""
    for name, source_runtime, source_image in sources:
        if runtime is None and source_runtime:
            runtime, source = source_runtime, name
        if image is None and source_image:
            image = source_image
    if runtime is None:
        if image is not None:
            raise EndpointError(
                "an image endpoint was given without a runtime endpoint: "
                f"also pass --cri-endpoint or set {RUNTIME_ENV}"
            )
        return None
    return Endpoints(runtime=normalize(runtime), image=normalize(image or runtime), source=source)


def check_sockets(endpoints: Endpoints) -> None:
    """Fail at once, naming the path and where it came from, when a socket is not there
    (rather than after the call timeout)."""
    for role, endpoint in (("runtime", endpoints.runtime), ("image", endpoints.image)):
        path = socket_path(endpoint)
        if not path.exists():
            problem = "no such file"
        elif not path.is_socket():
            problem = "not a socket"
        else:
            continue
        raise EndpointError(
            f"{role} endpoint {endpoint} (from {endpoints.source}): {problem}; is the runtime "
            "running, and is this its socket?"
        )


def sockets_in_usual_places(candidates: tuple[Path, ...] | None = None) -> list[str]:
    """Runtime sockets where runtimes put them by default (WELL_KNOWN_SOCKETS), as endpoints."""
    paths = WELL_KNOWN_SOCKETS if candidates is None else candidates
    return ["unix://" + str(path) for path in paths if path.is_socket()]
