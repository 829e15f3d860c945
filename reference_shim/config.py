"""The shim's command line, shared by ``python -m reference_shim`` and ``cri-conformance shim``."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from reference_shim.backends import AUTO, BACKENDS, resolve_backend
from reference_shim.strategies import STRATEGIES

DEFAULT_POD_IMAGE = "127.0.0.1:5000/cri-conformance/pause:3.9"
CONTAINER_CLI_ENV = "CRI_SHIM_CONTAINER_CLI"
STREAMING_STALL_TIMEOUT_S = 4 * 3600.0
"""kubelet's and containerd's default streaming idle timeout (``streaming-connection-idle-timeout``,
``stream_idle_timeout``)."""


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
    stop_with_pid: int | None = None


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
        choices=(AUTO, *BACKENDS),
        default=AUTO,
        help="what a VM is: docker = a Docker container, apple = an Apple `container` VM "
        "(macOS); auto = apple on a Mac with Apple's container CLI, docker elsewhere",
    )
    parser.add_argument(
        "--strategy",
        choices=tuple(STRATEGIES),
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
        "--stop-with-pid",
        type=int,
        default=None,
        metavar="PID",
        help="stop, as on SIGTERM, once process PID has ended (the harness passes its own, so "
        "that a shim it started does not outlive it when it is killed)",
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
        stop_with_pid=args.stop_with_pid,
    )
