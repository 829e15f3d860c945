"""Pod sandbox RPCs: a pod is one VM (on Docker, a pause container) with its own IP."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends import base as backends
from reference_shim.cri import filters, parallel, unhonoured, validation
from reference_shim.cri.containers import Containers
from reference_shim.cri.context import ShimContext
from reference_shim.cri.convert import messages, vm_specs
from reference_shim.cri.current import current_pod, current_pods
from reference_shim.errors import AlreadyExists, BackendError, InvalidArgument, ResourceExhausted
from reference_shim.state import ids
from reference_shim.state.records import ContainerRecord, PodRecord, PodTeardown
from reference_shim.timestamps import now_ns

DEFAULT_HANDLER = ""
_POD_STOP_TIMEOUT_S = 2
# How long RunPodSandbox waits for removed pods' teardowns to free the backend's addresses.
_TEARDOWN_WAIT_S = 60.0


def _identity(config: cri.PodSandboxConfig) -> tuple[str, str, str, int]:
    metadata = config.metadata
    return (metadata.name, metadata.namespace, metadata.uid, metadata.attempt)


class Pods:
    def __init__(self, ctx: ShimContext, containers: Containers) -> None:
        self.ctx = ctx
        self._containers = containers
        self._reserved: set[tuple[str, str, str, int]] = set()
        self._reserve_lock = threading.Lock()

    # -- run ----------------------------------------------------------------------------

    def _reserve(self, config: cri.PodSandboxConfig) -> tuple[str, str, str, int]:
        identity = _identity(config)
        with self._reserve_lock:
            taken = identity in self._reserved or any(
                _identity(pod.config) == identity for pod in self.ctx.registry.pods.values()
            )
            if taken:
                name, namespace, uid, attempt = identity
                raise AlreadyExists(
                    f"a pod sandbox named {name!r} in namespace {namespace!r} with uid {uid!r} "
                    f"and attempt {attempt} already exists"
                )
            self._reserved.add(identity)
        return identity

    def _ensure_pod_image(self) -> None:
        if self.ctx.images.get(self.ctx.pod_image) is None:
            self.ctx.images.pull(self.ctx.pod_image, "", "")

    def run(self, request: cri.RunPodSandboxRequest) -> str:
        config = validation.pod_config(request.config, request.HasField("config"))
        unhonoured.pod_config(config, self.ctx.backend.capabilities)
        if request.runtime_handler not in {DEFAULT_HANDLER}:
            raise InvalidArgument(
                f"runtime handler {request.runtime_handler!r} is not configured; this shim "
                "has only the default handler ''"
            )
        identity = self._reserve(config)
        try:
            return self._run(config, request.runtime_handler)
        finally:
            with self._reserve_lock:
                self._reserved.discard(identity)

    def _run(self, config: cri.PodSandboxConfig, handler: str) -> str:
        pod = PodRecord(
            id=ids.new_id(), config=config, runtime_handler=handler, created_at=now_ns()
        )
        pod.shim_ports = self.ctx.strategy.shim_host_ports and any(
            vm_specs.shim_serves(port) for port in vm_specs.port_specs(config)
        )
        if not self.ctx.backend.models_pods:
            self._ensure_pod_image()
        with self.ctx.registry.creating(pod.id):
            try:
                self._make(pod)
            except ResourceExhausted:
                # The backend's addresses may be held by the networks of removed pods whose
                # teardown is still under way; they are free again once it has ended.
                if not self.ctx.teardowns.settle(_TEARDOWN_WAIT_S):
                    raise
                self._make(pod)
        return pod.id

    def _make(self, pod: PodRecord) -> None:
        """The pod's network, files and VM, then its record; on a failure, none of them."""
        config = pod.config
        try:
            spec = vm_specs.pod_spec(pod, self.ctx.pod_image, self.ctx.strategy.place_pod(pod))
            self.ctx.serve_host_ports(pod)  # first: a port in use fails before any VM exists
            pod_dir = self.ctx.pod_dir(pod.id)
            if config.HasField("dns_config"):
                pod_dir.mkdir(parents=True, exist_ok=True)
                (pod_dir / "resolv.conf").write_text(vm_specs.resolv_conf(config.dns_config))
            pod.vm_id = self.ctx.backend.create_vm(spec)
            with self.ctx.registry.freshness.reading(pod.vm_id):
                status = self.ctx.backend.start_vm(pod.vm_id)
                if not status.ip and not self.ctx.backend.models_pods:
                    raise BackendError(f"pod VM {pod.vm_id[:12]} started without an IP address")
                pod.ip = status.ip
                if self.ctx.strategy.pod_hosts_file:
                    pod_dir.mkdir(parents=True, exist_ok=True)
                    (pod_dir / "hosts").write_text(
                        vm_specs.hosts_file(pod.ip, vm_specs.pod_hostname(config))
                    )
                self.ctx.registry.save_pod(pod)
        except Exception:
            self.ctx.registry.delete_pod(pod.id)
            self.ctx.host_ports.close(pod.id)
            self.ctx.teardowns.remove(PodTeardown(pod.id, pod.vm_id, (), pod.network))
            raise

    # -- stop / remove ------------------------------------------------------------------

    @contextlib.contextmanager
    def _held(self, pod_id: str) -> Iterator[PodRecord | None]:
        """The pod, under its lock; None when unknown, or removed while this waited for it."""
        pod = self.ctx.registry.find_pod(pod_id)
        if pod is None:
            yield None
            return
        with self.ctx.registry.object_lock(pod.id):
            yield self.ctx.registry.find_pod(pod.id)

    def stop(self, pod_id: str) -> None:
        """Idempotent: an unknown or already stopped pod is not an error."""
        with self._held(pod_id) as pod:
            if pod is None:
                return
            # The pod's containers get no grace (as in containerd), all killed side by side.
            parallel.for_each(
                lambda container: self._containers.stop_record(container, timeout=0),
                self.ctx.registry.containers_of(pod.id),
            )
            self.ctx.host_ports.close(pod.id)
            if pod.vm_id:
                backends.stop(self.ctx.backend, pod.vm_id, _POD_STOP_TIMEOUT_S)
            if pod.state != cri.SANDBOX_NOTREADY:
                pod.state = cri.SANDBOX_NOTREADY
                self.ctx.registry.save_pod(pod)

    def remove(self, pod_id: str) -> None:
        """Idempotent. When it returns the pod and its containers are gone for CRI: what still
        ran is killed, the host ports are closed, and the records are replaced by the pod's
        teardown, which removes its VMs, network and files in the background
        (``reference_shim.cri.teardowns``)."""
        with self._held(pod_id) as pod:
            if pod is None:
                return
            containers = self.ctx.registry.containers_of(pod.id)
            with contextlib.ExitStack() as held:
                for container in containers:  # no start or stop of them meanwhile
                    held.enter_context(self.ctx.registry.object_lock(container.id))
                teardown = self._end(pod, containers)
                self.ctx.registry.retire_pod(teardown)
        for object_id in (pod.id, *(container.id for container in containers)):
            self.ctx.registry.forget_lock(object_id)
        self.ctx.teardowns.start(teardown)

    def _end(self, pod: PodRecord, containers: list[ContainerRecord]) -> PodTeardown:
        """Kill the pod's workloads that may still run, side by side, and close its host
        ports: what a client could still reach. What remains to remove is the teardown."""
        parallel.for_each(self._containers.halt, containers)
        self.ctx.host_ports.close(pod.id)
        if pod.vm_id and pod.state == cri.SANDBOX_READY:
            self.ctx.backend.kill_vm(pod.vm_id)
        vms = tuple(container.vm_id for container in containers if container.vm_id)
        return PodTeardown(pod.id, pod.vm_id, vms, pod.network)

    # -- status / list ------------------------------------------------------------------

    def status(self, request: cri.PodSandboxStatusRequest) -> cri.PodSandboxStatusResponse:
        pod = current_pod(self.ctx, self.ctx.registry.pod(request.pod_sandbox_id))
        response = cri.PodSandboxStatusResponse(status=messages.pod_status(pod), timestamp=now_ns())
        if request.verbose:
            response.info.update(
                messages.verbose_info(
                    {
                        "vm_id": pod.vm_id,
                        "backend": self.ctx.backend.name,
                        "strategy": self.ctx.strategy.name,
                        "network": pod.network or self.ctx.backend.network(),
                        "image": self.ctx.pod_image,
                        "config": {"hostname": vm_specs.pod_hostname(pod.config)},
                    }
                )
            )
        return response

    def list(self, pod_filter: cri.PodSandboxFilter | None) -> list[cri.PodSandbox]:
        records = current_pods(self.ctx)
        return [messages.pod_item(pod) for pod in filters.pods(records, pod_filter)]
