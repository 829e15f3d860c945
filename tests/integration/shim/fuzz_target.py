"""The shim the fuzz test sends its requests to, and what the test counts.

One shim (``shared-vm``, Docker backend) serves every request as raw bytes, so a request that
does not decode travels the same way as one that does. A pod with a running and a created
container gives the requests real ids to aim at; the pods and containers the requests make are
removed after each RPC's turn, and everything when the shim goes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import docker
import grpc
from cri_api.v1 import api_pb2 as cri
from docker_shim import BUSYBOX, connect, shell
from google.protobuf.message import Message

from harness.client import CriClient
from reference_shim.launcher import ShimLauncher

SERVICES = ("RuntimeService", "ImageService")
# Requests that end the anchor objects' lives run last, in this order.
DESTRUCTIVE = ("StopContainer", "RemoveContainer", "StopPodSandbox", "RemovePodSandbox")
REQUEST_DEADLINE_S = 60.0
# A workload that lives until it is asked to stop (SIGTERM), so no stop waits for long.
UNTIL_STOPPED = "trap 'exit 0' TERM; while true; do sleep 1; done"
ANCHOR_NAMESPACE = "fuzz"


@dataclass(frozen=True)
class Rpc:
    service: str
    name: str
    request: type[Message]

    @property
    def path(self) -> str:
        return f"/runtime.v1.{self.service}/{self.name}"


def unary_rpcs() -> list[Rpc]:
    """Every unary RPC of both services, the destructive ones last."""
    found = []
    for service in SERVICES:
        for method in cri.DESCRIPTOR.services_by_name[service].methods:
            if not (method.client_streaming or method.server_streaming):
                found.append(Rpc(service, method.name, getattr(cri, method.input_type.name)))
    return sorted(
        found, key=lambda rpc: DESTRUCTIVE.index(rpc.name) if rpc.name in DESTRUCTIVE else -1
    )


@dataclass
class Figures:
    """What was sent and what came back, per RPC and per status code."""

    requests: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    by_rpc: dict[str, Counter[str]] = field(default_factory=dict)
    undecodable: int = 0

    def count(self, rpc: str, code: grpc.StatusCode, undecodable: bool) -> None:
        self.requests[rpc] += 1
        self.codes[code.name] += 1
        self.by_rpc.setdefault(rpc, Counter())[code.name] += 1
        self.undecodable += undecodable

    def summary(self) -> dict[str, object]:
        return {
            "requests": sum(self.requests.values()),
            "undecodable_requests": self.undecodable,
            "codes": dict(self.codes.most_common()),
            "by_rpc": {rpc: dict(codes) for rpc, codes in sorted(self.by_rpc.items())},
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.summary(), indent=2) + "\n")


class FuzzTarget:
    """A running shim, its anchor objects, and the folder its pods may log into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pod_logs = root / "host" / "var" / "log" / "pods"  # the kubelet's shape
        self.pod_logs.mkdir(parents=True)
        self.launcher = ShimLauncher(strategy="shared-vm", state_dir=root / "state").start()
        self.client: CriClient = connect(self.launcher)
        self.channel = grpc.insecure_channel(self.launcher.endpoint)
        self.figures = Figures()
        self.client.pull_image(BUSYBOX)
        self.anchor_ids = self._make_anchor()

    def _make_anchor(self) -> list[str]:
        config = self.anchor_config = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name="anchor", namespace=ANCHOR_NAMESPACE, uid="a"),
            log_directory=str(self.pod_logs / "fuzz_anchor_a"),
        )
        pod_id = self.client.run_pod(config)
        running = self.client.create_container(pod_id, shell(UNTIL_STOPPED, "running"), config)
        self.client.start_container(running)
        created = self.client.create_container(pod_id, shell(UNTIL_STOPPED, "created"), config)
        return [pod_id, running, created]

    def send(self, rpc: Rpc, payload: bytes) -> tuple[grpc.StatusCode, str, bytes]:
        """One request as bytes; the status it got (the shim's, never the client's deadline),
        its message and the answer's bytes."""
        call = self.channel.unary_unary(
            rpc.path, request_serializer=None, response_deserializer=None
        )  # bytes as they are
        started = time.monotonic()
        try:
            answer: bytes = call(payload, timeout=REQUEST_DEADLINE_S)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                assert time.monotonic() - started < REQUEST_DEADLINE_S, (
                    f"{rpc.name} did not answer within {REQUEST_DEADLINE_S:g}s"
                )
            return code, str(error.details() or ""), b""
        return grpc.StatusCode.OK, "", answer

    def still_serves(self) -> None:
        version = self.client.version()
        assert version.runtime_api_version == "v1", version

    def remove_all_but_the_anchor(self) -> None:
        """What this RPC's requests made goes; the anchor stays while it lives."""
        for container in self.client.list_containers():
            if container.id not in self.anchor_ids:
                self.client.remove_container(container.id)
        for pod in self.client.list_pods():
            if pod.id not in self.anchor_ids:
                self.client.stop_pod(pod.id)
                self.client.remove_pod(pod.id)

    def close(self) -> str:
        """Stop the shim (it removes its network when it has no objects left); its output."""
        self.channel.close()
        self.client.close()
        self.launcher.stop()
        output = self.launcher.stderr_path.read_text(errors="replace")
        self.launcher.close()
        return output


def image_exists(api: docker.APIClient, reference: str) -> bool:
    """Whether Docker resolves ``reference`` (a name, an id or a prefix of one)."""
    try:
        api.inspect_image(reference)
    except docker.errors.DockerException:  # not found, not a reference, or empty
        return False
    return True
