"""A thin, typed CRI v1 client.

Every call carries a deadline, and every failure becomes a ``CriError`` whose message names the
RPC and what happened, so a failing test reads as a sentence. Only an answer of the runtime is
a ``CallFailed`` (with its status code): a call the runtime never answered (``NoAnswer``), an
answer that does not decode or lacks what the call returns (``BadAnswer``), and a connection
that failed (``EndpointUnavailable``) are not, so no check that expects a refusal takes a hung
or broken runtime for one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc
from cri_api.v1alpha2 import api_pb2 as cri_v1alpha2
from cri_api.v1alpha2 import api_pb2_grpc as cri_v1alpha2_grpc

from harness.endpoints import Endpoints

Response = TypeVar("Response")


class CriError(Exception):
    """Base of every error the client raises."""


class EndpointUnavailable(CriError):
    """Nothing usable answers at the endpoint; the message says what to check."""


class CallFailed(CriError):
    """The runtime answered an RPC with an error status."""

    def __init__(self, rpc: str, code: grpc.StatusCode, details: str) -> None:
        self.rpc = rpc
        self.code = code
        self.details = details
        super().__init__(f"{rpc} failed with {code.name}: {details}")


class NoAnswer(CriError):
    """The call's deadline passed before the runtime answered: it may be hung."""

    def __init__(self, rpc: str, seconds: float, endpoint: str) -> None:
        self.rpc = rpc
        self.seconds = seconds
        super().__init__(
            f"{rpc} did not answer within {seconds:g} s (the runtime at {endpoint} may be "
            "hung; --cri-timeout sets the deadline)"
        )


class BadAnswer(CriError):
    """The runtime answered, but not with what the call returns."""

    def __init__(self, rpc: str, problem: str) -> None:
        self.rpc = rpc
        super().__init__(f"{rpc} answered {problem}")


# grpcio's own words when a response does not parse as the call's message (grpc/_channel.py).
_UNDECODABLE = "Exception deserializing response!"
# A runtime may answer DEADLINE_EXCEEDED itself (ExecSync); ours is the one that ran its course.
_DEADLINE_SLACK = 0.05
# Calls that tear down or download get a multiple of the deadline rather than a fixed extra,
# so a short --cri-timeout (a test of a hung runtime) shortens them too.
TEARDOWN_FACTOR = 2
PULL_FACTOR = 5

# Calls that change nothing on the runtime. A connection that died unseen (a runtime that
# restarted, or cut it) is noticed only by the call that next writes to it ("Broken pipe");
# gRPC's own retry policy sends such a call once more on a new connection. Calls that change
# state are never sent twice: the runtime may have acted on the first before the connection
# went.
_READ_ONLY_CALLS = {
    "runtime.v1.RuntimeService": (
        "Version", "Status", "RuntimeConfig", "PodSandboxStatus", "ListPodSandbox",
        "ContainerStatus", "ListContainers", "ContainerStats", "ListContainerStats",
        "PodSandboxStats", "ListPodSandboxStats", "ListMetricDescriptors",
        "ListPodSandboxMetrics",
    ),
    "runtime.v1.ImageService": ("ImageStatus", "ListImages", "ImageFsInfo"),
}  # fmt: skip
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": service, "method": method}
                    for service, methods in _READ_ONLY_CALLS.items()
                    for method in methods
                ],
                "retryPolicy": {
                    "maxAttempts": 2,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.05s",
                    "backoffMultiplier": 1,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
# gRPC shares one connection between the channels of a process that name the same target
# (its global subchannel pool). Each client opens its own instead: a runtime that hangs up on
# one client's call fails no call of another, and a channel opened again after a failure does
# not get the dead connection back from the pool.
_CHANNEL_OPTIONS = [
    ("grpc.enable_retries", 1),
    ("grpc.service_config", _SERVICE_CONFIG),
    ("grpc.use_local_subchannel_pool", 1),
]


class CriClient:
    """Both CRI services of one runtime, each call bounded by ``timeout`` seconds."""

    def __init__(self, endpoints: Endpoints, timeout: float) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        self._open_channels()

    def _open_channels(self) -> None:
        """New connections. Channels replaced here are closed once no call holds them."""
        self._runtime_channel = grpc.insecure_channel(
            self.endpoints.runtime_target, _CHANNEL_OPTIONS
        )
        self._image_channel = (
            self._runtime_channel
            if self.endpoints.image == self.endpoints.runtime
            else grpc.insecure_channel(self.endpoints.image_target, _CHANNEL_OPTIONS)
        )
        self.runtime_stub: Any = cri_grpc.RuntimeServiceStub(self._runtime_channel)
        self.image_stub: Any = cri_grpc.ImageServiceStub(self._image_channel)

    def close(self) -> None:
        self._runtime_channel.close()
        if self._image_channel is not self._runtime_channel:
            self._image_channel.close()

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> cri.VersionResponse:
        """Wait for both services to answer v1, or explain why they do not."""
        self._wait_ready(self._runtime_channel, self.endpoints.runtime)
        if self._image_channel is not self._runtime_channel:
            self._wait_ready(self._image_channel, self.endpoints.image)
        try:
            return self.version()
        except CallFailed as error:
            if error.code is grpc.StatusCode.UNIMPLEMENTED and self._answers_v1alpha2():
                raise EndpointUnavailable(
                    f"{self.endpoints.runtime} answers only the old CRI v1alpha2 API; "
                    "cri-conformance tests runtime.v1 (containerd >= 1.6, CRI-O >= 1.23)"
                ) from error
            raise

    def _wait_ready(self, channel: grpc.Channel, endpoint: str) -> None:
        try:
            grpc.channel_ready_future(channel).result(timeout=self.timeout)
        except grpc.FutureTimeoutError:
            raise EndpointUnavailable(
                f"no CRI runtime answers at {endpoint} within {self.timeout:g} s: check that "
                "the socket exists and the runtime is running, or pass another --cri-endpoint"
            ) from None

    def _answers_v1alpha2(self) -> bool:
        stub: Any = cri_v1alpha2_grpc.RuntimeServiceStub(self._runtime_channel)
        try:
            stub.Version(cri_v1alpha2.VersionRequest(), timeout=self.timeout)
        except grpc.RpcError:
            return False
        return True

    # -- the call primitive -------------------------------------------------------------

    def call(
        self, method: Callable[..., Response], request: Any, extra_seconds: float = 0.0
    ) -> Response:
        """Invoke one stub method with a deadline, turning gRPC errors into ``CriError``."""
        rpc = type(request).__name__.removesuffix("Request")
        deadline = self.timeout + extra_seconds
        started = time.monotonic()
        try:
            return method(request, timeout=deadline)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            details = error.details() or ""
            if code is grpc.StatusCode.UNAVAILABLE:
                # A connection the runtime cut is noticed only by the call that next writes to
                # it, which then fails without reaching the runtime; the next call, even one
                # that changes state and is never sent twice, goes out on a new connection.
                self._open_channels()
                raise EndpointUnavailable(
                    f"{rpc} got no answer: the runtime at {self.endpoints.runtime} is "
                    f"unavailable or closed the connection ({details})"
                ) from None
            waited = time.monotonic() - started
            if code is grpc.StatusCode.DEADLINE_EXCEEDED and waited >= deadline - _DEADLINE_SLACK:
                raise NoAnswer(rpc, deadline, self.endpoints.runtime) from None
            if code is grpc.StatusCode.INTERNAL and details == _UNDECODABLE:
                raise BadAnswer(
                    rpc, f"bytes that do not decode as a {rpc}Response ({details})"
                ) from None
            raise CallFailed(rpc, code, details) from None

    @property
    def _teardown_extra(self) -> float:
        return (TEARDOWN_FACTOR - 1) * self.timeout

    # -- runtime info -------------------------------------------------------------------

    def version(self) -> cri.VersionResponse:
        return self.call(self.runtime_stub.Version, cri.VersionRequest(version="v1"))

    def status(self, verbose: bool = False) -> cri.StatusResponse:
        return self.call(self.runtime_stub.Status, cri.StatusRequest(verbose=verbose))

    def runtime_config(self) -> cri.RuntimeConfigResponse:
        return self.call(self.runtime_stub.RuntimeConfig, cri.RuntimeConfigRequest())

    # -- pod sandboxes ------------------------------------------------------------------

    def run_pod(self, config: cri.PodSandboxConfig, runtime_handler: str = "") -> str:
        request = cri.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        return _created(self.call(self.runtime_stub.RunPodSandbox, request), "pod_sandbox_id")

    def pod_status(self, pod_id: str, verbose: bool = False) -> cri.PodSandboxStatusResponse:
        request = cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=verbose)
        return self.call(self.runtime_stub.PodSandboxStatus, request)

    def list_pods(self, filter: cri.PodSandboxFilter | None = None) -> list[cri.PodSandbox]:
        request = cri.ListPodSandboxRequest(filter=filter)
        return list(self.call(self.runtime_stub.ListPodSandbox, request).items)

    def stop_pod(self, pod_id: str) -> None:
        request = cri.StopPodSandboxRequest(pod_sandbox_id=pod_id)
        self.call(self.runtime_stub.StopPodSandbox, request, self._teardown_extra)

    def remove_pod(self, pod_id: str) -> None:
        request = cri.RemovePodSandboxRequest(pod_sandbox_id=pod_id)
        self.call(self.runtime_stub.RemovePodSandbox, request, self._teardown_extra)

    # -- containers ---------------------------------------------------------------------

    def create_container(
        self, pod_id: str, config: cri.ContainerConfig, pod_config: cri.PodSandboxConfig
    ) -> str:
        request = cri.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=config, sandbox_config=pod_config
        )
        return _created(self.call(self.runtime_stub.CreateContainer, request), "container_id")

    def start_container(self, container_id: str) -> None:
        request = cri.StartContainerRequest(container_id=container_id)
        self.call(self.runtime_stub.StartContainer, request)

    def stop_container(self, container_id: str, timeout: int = 0) -> None:
        request = cri.StopContainerRequest(container_id=container_id, timeout=timeout)
        self.call(self.runtime_stub.StopContainer, request, timeout + self._teardown_extra)

    def remove_container(self, container_id: str) -> None:
        request = cri.RemoveContainerRequest(container_id=container_id)
        self.call(self.runtime_stub.RemoveContainer, request, self._teardown_extra)

    def container_status(
        self, container_id: str, verbose: bool = False
    ) -> cri.ContainerStatusResponse:
        request = cri.ContainerStatusRequest(container_id=container_id, verbose=verbose)
        return self.call(self.runtime_stub.ContainerStatus, request)

    def list_containers(self, filter: cri.ContainerFilter | None = None) -> list[cri.Container]:
        request = cri.ListContainersRequest(filter=filter)
        return list(self.call(self.runtime_stub.ListContainers, request).containers)

    def exec_sync(
        self, container_id: str, cmd: list[str], timeout: int = 0
    ) -> cri.ExecSyncResponse:
        request = cri.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=timeout)
        return self.call(self.runtime_stub.ExecSync, request, extra_seconds=timeout)

    def update_container_resources(
        self, container_id: str, linux: cri.LinuxContainerResources
    ) -> None:
        request = cri.UpdateContainerResourcesRequest(container_id=container_id, linux=linux)
        self.call(self.runtime_stub.UpdateContainerResources, request)

    def reopen_container_log(self, container_id: str) -> None:
        request = cri.ReopenContainerLogRequest(container_id=container_id)
        self.call(self.runtime_stub.ReopenContainerLog, request)

    # -- stats --------------------------------------------------------------------------

    def container_stats(self, container_id: str) -> cri.ContainerStats:
        request = cri.ContainerStatsRequest(container_id=container_id)
        return self.call(self.runtime_stub.ContainerStats, request).stats

    def list_container_stats(
        self, filter: cri.ContainerStatsFilter | None = None
    ) -> list[cri.ContainerStats]:
        request = cri.ListContainerStatsRequest(filter=filter)
        return list(self.call(self.runtime_stub.ListContainerStats, request).stats)

    def pod_stats(self, pod_id: str) -> cri.PodSandboxStats:
        request = cri.PodSandboxStatsRequest(pod_sandbox_id=pod_id)
        return self.call(self.runtime_stub.PodSandboxStats, request).stats

    def list_pod_stats(
        self, filter: cri.PodSandboxStatsFilter | None = None
    ) -> list[cri.PodSandboxStats]:
        request = cri.ListPodSandboxStatsRequest(filter=filter)
        return list(self.call(self.runtime_stub.ListPodSandboxStats, request).stats)

    def list_metric_descriptors(self) -> list[cri.MetricDescriptor]:
        request = cri.ListMetricDescriptorsRequest()
        return list(self.call(self.runtime_stub.ListMetricDescriptors, request).descriptors)

    def list_pod_metrics(self) -> list[cri.PodSandboxMetrics]:
        request = cri.ListPodSandboxMetricsRequest()
        return list(self.call(self.runtime_stub.ListPodSandboxMetrics, request).pod_metrics)

    # -- streaming endpoints (the URL only; harness.streaming speaks the protocols) ------

    def exec_url(self, request: cri.ExecRequest) -> str:
        return self.call(self.runtime_stub.Exec, request).url

    def attach_url(self, request: cri.AttachRequest) -> str:
        return self.call(self.runtime_stub.Attach, request).url

    def port_forward_url(self, pod_id: str, ports: list[int]) -> str:
        request = cri.PortForwardRequest(pod_sandbox_id=pod_id, port=ports)
        return self.call(self.runtime_stub.PortForward, request).url

    # -- images -------------------------------------------------------------------------

    def pull_image(self, image: str, pod_config: cri.PodSandboxConfig | None = None) -> str:
        request = cri.PullImageRequest(image=cri.ImageSpec(image=image), sandbox_config=pod_config)
        extra = (PULL_FACTOR - 1) * self.timeout
        return self.call(self.image_stub.PullImage, request, extra).image_ref

    def image_status(self, image: str, verbose: bool = False) -> cri.ImageStatusResponse:
        request = cri.ImageStatusRequest(image=cri.ImageSpec(image=image), verbose=verbose)
        return self.call(self.image_stub.ImageStatus, request)

    def list_images(self, image: str | None = None) -> list[cri.Image]:
        filter = cri.ImageFilter(image=cri.ImageSpec(image=image)) if image else None
        return list(
            self.call(self.image_stub.ListImages, cri.ListImagesRequest(filter=filter)).images
        )

    def remove_image(self, image: str) -> None:
        request = cri.RemoveImageRequest(image=cri.ImageSpec(image=image))
        self.call(self.image_stub.RemoveImage, request, self._teardown_extra)

    def image_fs_info(self) -> cri.ImageFsInfoResponse:
        return self.call(self.image_stub.ImageFsInfo, cri.ImageFsInfoRequest())


def _created(answer: Any, field: str) -> str:
    """The id a create call returned; an OK answer without one is no answer a caller can use."""
    created: str = getattr(answer, field)
    if not created:
        rpc = type(answer).__name__.removesuffix("Response")
        raise BadAnswer(rpc, f"OK without a {field}")
    return created
