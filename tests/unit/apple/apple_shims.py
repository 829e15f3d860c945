"""The shim over gRPC with ``--backend apple``, its CLI pointed at the double: starting it,
and the pods and containers the tests make in it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import grpc
import pytest
from apple_double import BUSYBOX, CliDouble
from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed, CriClient
from harness.endpoints import Endpoints
from reference_shim.config import add_arguments, from_arguments
from reference_shim.server import Shim

CRI_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (stdout|stderr) (P|F) (.*)$")


def refused(code: grpc.StatusCode) -> pytest.RaisesExc[CallFailed]:
    return pytest.raises(CallFailed, check=lambda error: error.code is code)


class Shims:
    """Shims on one state dir, one at a time, started as their command line would be:
    ``--backend apple --container-cli <the double>``."""

    def __init__(self, tmp_path: Path, double: CliDouble) -> None:
        self.tmp_path, self.double = tmp_path, double
        self.running: tuple[Shim, CriClient] | None = None

    def start(self) -> CriClient:
        self.stop()
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        config = from_arguments(parser.parse_args([
            "--socket", str(self.tmp_path / "cri.sock"),
            "--state-dir", str(self.tmp_path / "state"),
            "--backend", "apple", "--container-cli", self.double.path, "--log-level", "debug",
        ]))  # fmt: skip
        shim = Shim(config)
        shim.start()
        endpoint = f"unix://{config.socket}"
        client = CriClient(Endpoints(endpoint, endpoint, "test"), timeout=30)
        client.connect()
        self.running = (shim, client)
        return client

    def stop(self) -> None:
        """The shim stops; its VMs, and the keepers watching them, stay."""
        if self.running is not None:
            shim, client = self.running
            client.close()
            shim.stop()
            self.running = None


def pod_config(tmp_path: Path, name: str = "web") -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace="ns", uid="uid-" + name),
        hostname="webhost",
        log_directory=str(tmp_path / "logs"),
    )


def container_config(name: str = "main") -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name),
        image=cri.ImageSpec(image=BUSYBOX),
        command=["sh", "-c", "echo hello; echo oops >&2; sleep 3600"],
        log_path=f"{name}.log",
    )


def vm_of(client: CriClient, container_id: str) -> str:
    info = client.container_status(container_id, verbose=True).info["info"]
    found = re.search(r'"vm_id": "([^"]+)"', info)
    assert found
    return found.group(1)


def log_lines(path: Path) -> list[tuple[bytes, bytes, bytes]]:
    if not path.exists():
        return []
    found = [CRI_LINE.match(line) for line in path.read_bytes().splitlines()]
    assert all(found), path.read_bytes()
    return [(m.group(2), m.group(3), m.group(4)) for m in found if m]
