"""The shim's command line, shared by ``python -m reference_shim`` and ``cri-conformance shim``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_POD_IMAGE = "127.0.0.1:5000/cri-conformance/pause:3.9"
BACKENDS = ("auto", "docker", "apple")
STRATEGIES = ("reject", "shared-vm", "separate-vms")
CONTAINER_CLI_ENV = "CRI_SHIM_CONTAINER_CLI"
STREAMING_STALL_TIMEOUT_S = 4 * 3600.0
"""kubelet's and containerd's default streaming idle timeout (``streaming-connection-idle-timeout``,
``stream_idle_timeout``)."""


def resolve_backend(name: str, platform: str | None = None, cli: str = "container") -> str:
    """``auto`` means Apple's CLI on a Mac that has it, Docker everywhere else."""
    if name != "auto":
        return name
    if (platform or sys.platform) == "darwin" and shutil.which(cli):
        return "apple"
    return "docker"


@dataclass(frozen=True)
class ShimConfig:
    socket: Path
    state_dir: Path
    backend: str
    strategy: str
    docker_host: str | None
    pod_image: str
    log_level: str
    container_cli: str = "container"
    streaming_stall_timeout: float = STREAMING_STALL_TIMEOUT_S


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        required=True,
        type=Path,
        help="unix socket to serve CRI on (created with mode 0660)",
    )
    parser.add_argument(
        "--state-dir",
        required=True,
        type=Path,
        help="folder for the shim's SQLite state and per-pod files",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="what a VM is: docker = a Docker container, apple = an Apple `container` VM "
        "(macOS); auto = apple on a Mac with Apple's container CLI, docker elsewhere",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="reject",
        help="how pods with several containers map onto VMs",
    )
    parser.add_argument(
        "--docker-host",
        default=None,
        help="Docker Engine address (default: DOCKER_HOST, then the project's "
        "socket under /var/tmp/cri-conformance, then Docker's default)",
    )
    parser.add_argument(
        "--container-cli",
        default=os.environ.get(CONTAINER_CLI_ENV, "container"),
        help=f"Apple's container CLI for --backend apple (default: ${CONTAINER_CLI_ENV}, "
        "then `container` on PATH)",
    )
    parser.add_argument(
        "--pod-image",
        default=DEFAULT_POD_IMAGE,
        help="image of the pod VM, like containerd's sandbox_image",
    )
    parser.add_argument(
        "--streaming-stall-timeout",
        type=float,
        default=STREAMING_STALL_TIMEOUT_S,
        metavar="SECONDS",
        help="drop a streaming client that takes none of the output waiting for it for this "
        "long, and end its exec (default 4 hours, as kubelet's idle timeout)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )


def from_arguments(args: argparse.Namespace) -> ShimConfig:
    return ShimConfig(
        socket=Path(args.socket).absolute(),
        state_dir=Path(args.state_dir).absolute(),
        backend=resolve_backend(args.backend, cli=args.container_cli),
        strategy=args.strategy,
        docker_host=args.docker_host,
        pod_image=args.pod_image,
        log_level=args.log_level,
        container_cli=args.container_cli,
        streaming_stall_timeout=args.streaming_stall_timeout,
    )
