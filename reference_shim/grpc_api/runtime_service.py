"""gRPC ``runtime.v1.RuntimeService``: request in, the CRI layer, response out.

Every RPC of ``cri_api.v1`` is answered here, implemented or refused with UNIMPLEMENTED and
the reason. Exec, Attach and PortForward go to a ``StreamingProvider``
(``reference_shim.cri.streaming_urls``, given as ``RuntimeService(streaming=...)``); a backend
without one answers them UNIMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from reference_shim.cri import runtime_info
from reference_shim.cri.containers import Containers
from reference_shim.cri.context import ShimContext
from reference_shim.cri.metrics import Metrics
from reference_shim.cri.pods import Pods
from reference_shim.cri.stats import Stats
from reference_shim.cri.sync import sync_pod
from reference_shim.errors import unimplemented
from reference_shim.grpc_api.statuses import rpc
from reference_shim.state.records import ContainerRecord, PodRecord

NO_STREAMING = (
    "this backend offers no streaming server (Exec, Attach, PortForward); use ExecSync for commands"
)


class StreamingProvider(Protocol):
    """What the streaming server offers: a URL for each request, for a known object."""

    def exec(self, request: cri.ExecRequest, container: ContainerRecord) -> cri.ExecResponse: ...

    def attach(
        self, request: cri.AttachRequest, container: ContainerRecord
    ) -> cri.AttachResponse: ...

    def port_forward(
        self, request: cri.PortForwardRequest, pod: PodRecord
    ) -> cri.PortForwardResponse: ...


class RuntimeService(cri_grpc.RuntimeServiceServicer):
    def __init__(self, ctx: ShimContext, streaming: StreamingProvider | None = None) -> None:
        self.ctx = ctx
        self.containers = Containers(ctx)
        self.pods = Pods(ctx, self.containers)
        self.stats = Stats(ctx)
        self.metrics = Metrics(self.stats)
        self.streaming = streaming

    # -- runtime ------------------------------------------------------------------------

    @rpc
    def Version(
        self, request: cri.VersionRequest, context: grpc.ServicerContext
    ) -> cri.VersionResponse:
        return runtime_info.version()

    @rpc
    def Status(
        self, request: cri.StatusRequest, context: grpc.ServicerContext
    ) -> cri.StatusResponse:
        return runtime_info.status(self.ctx, request.verbose)

    @rpc
    def RuntimeConfig(
        self, request: cri.RuntimeConfigRequest, context: grpc.ServicerContext
    ) -> cri.RuntimeConfigResponse:
        return runtime_info.runtime_config(self.ctx)

    @rpc
    def UpdateRuntimeConfig(
        self, request: cri.UpdateRuntimeConfigRequest, context: grpc.ServicerContext
    ) -> cri.UpdateRuntimeConfigResponse:
        runtime_info.update_runtime_config(self.ctx, request)
        return cri.UpdateRuntimeConfigResponse()

    # -- pod sandboxes ------------------------------------------------------------------

    @rpc
    def RunPodSandbox(
        self, request: cri.RunPodSandboxRequest, context: grpc.ServicerContext
    ) -> cri.RunPodSandboxResponse:
        return cri.RunPodSandboxResponse(pod_sandbox_id=self.pods.run(request))

    @rpc
    def StopPodSandbox(
        self, request: cri.StopPodSandboxRequest, context: grpc.ServicerContext
    ) -> cri.StopPodSandboxResponse:
        self.pods.stop(request.pod_sandbox_id)
        return cri.StopPodSandboxResponse()

    @rpc
    def RemovePodSandbox(
        self, request: cri.RemovePodSandboxRequest, context: grpc.ServicerContext
    ) -> cri.RemovePodSandboxResponse:
        self.pods.remove(request.pod_sandbox_id)
        return cri.RemovePodSandboxResponse()

    @rpc
    def PodSandboxStatus(
        self, request: cri.PodSandboxStatusRequest, context: grpc.ServicerContext
    ) -> cri.PodSandboxStatusResponse:
        return self.pods.status(request)

    @rpc
    def ListPodSandbox(
        self, request: cri.ListPodSandboxRequest, context: grpc.ServicerContext
    ) -> cri.ListPodSandboxResponse:
        pod_filter = request.filter if request.HasField("filter") else None
        return cri.ListPodSandboxResponse(items=self.pods.list(pod_filter))

    @rpc
    def UpdatePodSandboxResources(self, request: Any, context: grpc.ServicerContext) -> Any:
        return unimplemented(
            "UpdatePodSandboxResources", "pod-level resources are fixed when the pod VM is created"
        )

    # -- containers ---------------------------------------------------------------------

    @rpc
    def CreateContainer(
        self, request: cri.CreateContainerRequest, context: grpc.ServicerContext
    ) -> cri.CreateContainerResponse:
        return cri.CreateContainerResponse(container_id=self.containers.create(request))

    @rpc
    def StartContainer(
        self, request: cri.StartContainerRequest, context: grpc.ServicerContext
    ) -> cri.StartContainerResponse:
        self.containers.start(request.container_id)
        return cri.StartContainerResponse()

    @rpc
    def StopContainer(
        self, request: cri.StopContainerRequest, context: grpc.ServicerContext
    ) -> cri.StopContainerResponse:
        self.containers.stop(request.container_id, int(request.timeout))
        return cri.StopContainerResponse()

    @rpc
    def RemoveContainer(
        self, request: cri.RemoveContainerRequest, context: grpc.ServicerContext
    ) -> cri.RemoveContainerResponse:
        self.containers.remove(request.container_id)
        return cri.RemoveContainerResponse()

    @rpc
    def ListContainers(
        self, request: cri.ListContainersRequest, context: grpc.ServicerContext
    ) -> cri.ListContainersResponse:
        container_filter = request.filter if request.HasField("filter") else None
        return cri.ListContainersResponse(containers=self.containers.list(container_filter))

    @rpc
    def ContainerStatus(
        self, request: cri.ContainerStatusRequest, context: grpc.ServicerContext
    ) -> cri.ContainerStatusResponse:
        return self.containers.status(request)

    @rpc
    def UpdateContainerResources(
        self, request: cri.UpdateContainerResourcesRequest, context: grpc.ServicerContext
    ) -> cri.UpdateContainerResourcesResponse:
        self.containers.update_resources(request)
        return cri.UpdateContainerResourcesResponse()

    @rpc
    def ReopenContainerLog(
        self, request: cri.ReopenContainerLogRequest, context: grpc.ServicerContext
    ) -> cri.ReopenContainerLogResponse:
        self.containers.reopen_log(request.container_id)
        return cri.ReopenContainerLogResponse()

    @rpc
    def ExecSync(
        self, request: cri.ExecSyncRequest, context: grpc.ServicerContext
    ) -> cri.ExecSyncResponse:
        return self.containers.exec_sync(request, context.time_remaining())

    @rpc
    def CheckpointContainer(
        self, request: cri.CheckpointContainerRequest, context: grpc.ServicerContext
    ) -> cri.CheckpointContainerResponse:
        return unimplemented(
            "CheckpointContainer", "checkpointing a VM's workload (CRIU) is not supported"
        )

    @rpc
    def GetContainerEvents(
        self, request: cri.GetEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[cri.ContainerEventResponse]:
        return unimplemented(
            "GetContainerEvents",
            "container events (evented PLEG) are not offered; poll "
            "ListContainers and ListPodSandbox instead",
        )

    # -- streaming ----------------------------------------------------------------------

    @rpc
    def Exec(self, request: cri.ExecRequest, context: grpc.ServicerContext) -> cri.ExecResponse:
        if self.streaming is None:
            return unimplemented("Exec", NO_STREAMING)
        container = self.containers.running(request.container_id, "exec in")
        return self.streaming.exec(request, container)

    @rpc
    def Attach(
        self, request: cri.AttachRequest, context: grpc.ServicerContext
    ) -> cri.AttachResponse:
        if self.streaming is None:
            return unimplemented("Attach", NO_STREAMING)
        container = self.containers.running(request.container_id, "attach to")
        return self.streaming.attach(request, container)

    @rpc
    def PortForward(
        self, request: cri.PortForwardRequest, context: grpc.ServicerContext
    ) -> cri.PortForwardResponse:
        if self.streaming is None:
            return unimplemented("PortForward", NO_STREAMING)
        # A modelled pod's address comes with its workload, and may change: ask afresh.
        pod = sync_pod(self.ctx, self.ctx.registry.pod(request.pod_sandbox_id))
        return self.streaming.port_forward(request, pod)

    # -- stats and metrics --------------------------------------------------------------

    @rpc
    def ContainerStats(
        self, request: cri.ContainerStatsRequest, context: grpc.ServicerContext
    ) -> cri.ContainerStatsResponse:
        return cri.ContainerStatsResponse(stats=self.stats.container_by_id(request.container_id))

    @rpc
    def ListContainerStats(
        self, request: cri.ListContainerStatsRequest, context: grpc.ServicerContext
    ) -> cri.ListContainerStatsResponse:
        stats_filter = request.filter if request.HasField("filter") else None
        return cri.ListContainerStatsResponse(stats=self.stats.list_containers(stats_filter))

    @rpc
    def PodSandboxStats(
        self, request: cri.PodSandboxStatsRequest, context: grpc.ServicerContext
    ) -> cri.PodSandboxStatsResponse:
        return cri.PodSandboxStatsResponse(stats=self.stats.pod_by_id(request.pod_sandbox_id))

    @rpc
    def ListPodSandboxStats(
        self, request: cri.ListPodSandboxStatsRequest, context: grpc.ServicerContext
    ) -> cri.ListPodSandboxStatsResponse:
        stats_filter = request.filter if request.HasField("filter") else None
        return cri.ListPodSandboxStatsResponse(stats=self.stats.list_pods(stats_filter))

    @rpc
    def ListMetricDescriptors(
        self, request: cri.ListMetricDescriptorsRequest, context: grpc.ServicerContext
    ) -> cri.ListMetricDescriptorsResponse:
        return cri.ListMetricDescriptorsResponse(descriptors=self.metrics.descriptors())

    @rpc
    def ListPodSandboxMetrics(
        self, request: cri.ListPodSandboxMetricsRequest, context: grpc.ServicerContext
    ) -> cri.ListPodSandboxMetricsResponse:
        return cri.ListPodSandboxMetricsResponse(pod_metrics=self.metrics.list_pods())
