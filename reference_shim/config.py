"""The shim's command line, shared by ``python -m reference_shim`` and ``cri-conformance shim``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEFAULT_POD_IMAGE = "127.0.0.1:5000/cri-conformance/pause:3.9"
BACKENDS = ("docker",)
STRATEGIES = ("reject", "shared-vm", "separate-vms")


@dataclass(frozen=True)
class ShimConfig:
    socket: Path
    state_dir: Path
    backend: str
    strategy: str
    docker_host: str | None
    pod_image: str
    log_level: str


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
        default="docker",
        help="what a VM is: docker = a Docker container",
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
        "--pod-image",
        default=DEFAULT_POD_IMAGE,
        help="image of the pod VM, like containerd's sandbox_image",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )


def from_arguments(args: argparse.Namespace) -> ShimConfig:
    return ShimConfig(
        socket=Path(args.socket).absolute(),
        state_dir=Path(args.state_dir).absolute(),
        backend=args.backend,
        strategy=args.strategy,
        docker_host=args.docker_host,
        pod_image=args.pod_image,
        log_level=args.log_level,
    )
