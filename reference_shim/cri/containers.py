"""Container RPCs: creation through the strategy, the state machine, exec, logs."""

from __future__ import annotations

from pathlib import Path

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends import base as backends
from reference_shim.cri import filters, log_paths, unhonoured, validation
from reference_shim.cri.context import ShimContext
from reference_shim.cri.convert import messages, vm_specs
from reference_shim.cri.current import current_container, current_containers
from reference_shim.cri.state_machine import require_container_state, require_pod_ready
from reference_shim.cri.sync import mark_started, sync_container
from reference_shim.errors import AlreadyExists, NotFound
from reference_shim.state import ids
from reference_shim.state.records import ContainerRecord
from reference_shim.timestamps import now_ns

_LOG_DRAIN_ON_REMOVE_S = 1.0


class Containers:
    def __init__(self, ctx: ShimContext) -> None:
        self.ctx = ctx

    # -- create / start -----------------------------------------------------------------

    def create(self, request: cri.CreateContainerRequest) -> str:
        config = validation.container_config(request.config, request.HasField("config"))
        unhonoured.container_config(config, self.ctx.backend.capabilities)
        pod = self.ctx.registry.pod(request.pod_sandbox_id)
        log_file = log_paths.container_log_file(pod.config.log_directory, config.log_path)
        with self.ctx.registry.object_lock(pod.id):
            pod = self.ctx.registry.pod(pod.id)  # NOT_FOUND if removed while this waited
            require_pod_ready(pod, f"create container {config.metadata.name!r}")
            siblings = self.ctx.registry.containers_of(pod.id)
            for sibling in siblings:
                if (sibling.name, sibling.config.metadata.attempt) == (
                    config.metadata.name,
                    config.metadata.attempt,
                ):
                    raise AlreadyExists(
                        f"pod {pod.name!r} already has container {config.metadata.name!r} "
                        f"attempt {config.metadata.attempt} ({sibling.id})"
                    )
            siblings = [current_container(self.ctx, sibling) for sibling in siblings]
            placement = self.ctx.strategy.place_container(pod, siblings, config)
            image = self.ctx.images.get(config.image.image)
            if image is None:
                raise NotFound(f"image {config.image.image!r} not found: pull it first")
            image_volumes = vm_specs.image_mounts(config, self.ctx.images.get)
            container = ContainerRecord(
                id=ids.new_id(),
                pod_id=pod.id,
                config=config,
                created_at=now_ns(),
                image_ref=image.repo_digests[0] if image.repo_digests else image.id,
                image_id=image.id,
                log_path=log_file,
                resources=vm_specs.without_extra_swap(config.linux.resources),
                in_pod_vm=bool(placement.inside),
            )
            spec = vm_specs.container_spec(
                container, pod, image, placement, self.ctx.pod_files(pod.id), image_volumes
            )
            with self.ctx.registry.creating(container.id):
                container.vm_id = self.ctx.backend.create_vm(spec)
                with self.ctx.registry.freshness.reading(container.vm_id):  # just made: CREATED
                    self.ctx.registry.save_container(container)
        return container.id

    def start(self, container_id: str) -> None:
        container = self.ctx.registry.container(container_id)
        with self.ctx.registry.object_lock(container.id):
            container = self.ctx.registry.container(container.id)  # removed while this waited?
            require_container_state(container, {cri.CONTAINER_CREATED}, "start")
            require_pod_ready(
                self.ctx.registry.pod(container.pod_id), f"start container {container.id}"
            )
            with self.ctx.registry.freshness.reading(container.vm_id):
                status = self.ctx.backend.start_vm(container.vm_id)
                mark_started(self.ctx, container, status)
                self.ctx.registry.save_container(container)
                if container.log_path:
                    self.ctx.start_pump(container.id, container.vm_id, Path(container.log_path))
                sync_container(self.ctx, container, status)  # it may have exited already

    # -- stop / remove ------------------------------------------------------------------

    def stop(self, container_id: str, timeout: int) -> None:
        """Idempotent: an unknown (already removed) container is already stopped."""
        grace = validation.timeout_seconds(timeout, "StopContainer")
        container = self.ctx.registry.find_container(container_id)
        if container is not None:
            self.stop_record(container, grace)

    def stop_record(self, container: ContainerRecord, timeout: int) -> None:
        """Idempotent: a created or exited container is left as it is."""
        with self.ctx.registry.object_lock(container.id):
            sync_container(self.ctx, container)
            if container.state not in {cri.CONTAINER_RUNNING, cri.CONTAINER_UNKNOWN}:
                return
            backends.stop(self.ctx.backend, container.vm_id, timeout)
            sync_container(self.ctx, container)

    def remove(self, container_id: str) -> None:
        """Idempotent: an unknown container is already removed."""
        container = self.ctx.registry.find_container(container_id)
        if container is not None:
            self.remove_record(container)

    def halt(self, container: ContainerRecord) -> None:
        """Kill the container's VM unless it has exited, and let its log copier finish: what
        RemovePodSandbox does to each container, holding its lock, before the records go."""
        if container.vm_id and container.state != cri.CONTAINER_EXITED:
            self.ctx.backend.kill_vm(container.vm_id)
        self.ctx.drop_pump(container.id, _LOG_DRAIN_ON_REMOVE_S)

    def remove_record(self, container: ContainerRecord) -> None:
        with self.ctx.registry.object_lock(container.id):
            if container.vm_id:
                self.ctx.backend.remove_vm(container.vm_id)
            self.ctx.drop_pump(container.id, _LOG_DRAIN_ON_REMOVE_S)
            self.ctx.registry.delete_container(container.id)
        self.ctx.registry.forget_lock(container.id)

    # -- status / list ------------------------------------------------------------------

    def status(self, request: cri.ContainerStatusRequest) -> cri.ContainerStatusResponse:
        container = current_container(self.ctx, self.ctx.registry.container(request.container_id))
        response = cri.ContainerStatusResponse(status=messages.container_status(container))
        if request.verbose:
            response.info.update(
                messages.verbose_info(
                    {
                        "vm_id": container.vm_id,
                        "in_pod_vm": container.in_pod_vm,
                        "vm_ip": container.ip,
                        "pod_sandbox_id": container.pod_id,
                        "backend": self.ctx.backend.name,
                        "strategy": self.ctx.strategy.name,
                    }
                )
            )
        return response

    def list(self, container_filter: cri.ContainerFilter | None) -> list[cri.Container]:
        records = current_containers(self.ctx)
        with self.ctx.registry.lock:
            pod_ids = list(self.ctx.registry.pods)
        chosen = filters.containers(records, pod_ids, container_filter)
        return [messages.container_item(container) for container in chosen]

    # -- running containers -------------------------------------------------------------

    def running(self, container_id: str, action: str) -> ContainerRecord:
        container = sync_container(self.ctx, self.ctx.registry.container(container_id))
        require_container_state(container, {cri.CONTAINER_RUNNING}, action)
        return container

    def exec_sync(
        self, request: cri.ExecSyncRequest, caller_waits: float | None = None
    ) -> cri.ExecSyncResponse:
        """``caller_waits``: seconds until the caller's deadline (None: it has none). The
        command is ended when its own timeout or the caller's deadline comes, whichever is
        first: a caller that gave up must not hold a shim worker, and a command, for good."""
        validation.exec_command(list(request.cmd))
        timeout = validation.timeout_seconds(request.timeout, "ExecSync")
        container = self.running(request.container_id, "exec in")
        limits = [limit for limit in (timeout or None, caller_waits) if limit is not None]
        result = self.ctx.backend.exec_sync(
            container.vm_id, list(request.cmd), min(limits) if limits else None
        )
        return cri.ExecSyncResponse(
            stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code
        )

    def update_resources(self, request: cri.UpdateContainerResourcesRequest) -> None:
        validation.linux_resources(request.linux)
        container = self.ctx.registry.container(request.container_id)
        with self.ctx.registry.object_lock(container.id):
            container = self.ctx.registry.container(container.id)  # removed while this waited?
            sync_container(self.ctx, container)
            require_container_state(
                container, {cri.CONTAINER_CREATED, cri.CONTAINER_RUNNING}, "update resources of"
            )
            if request.linux.oom_score_adj != container.resources.oom_score_adj:
                unhonoured.refuse(
                    "linux.oom_score_adj",
                    "no backend can change the OOM score of a VM once it is created "
                    f"(it stays {container.resources.oom_score_adj})",
                )
            self.ctx.backend.update_resources(container.vm_id, vm_specs.resources(request.linux))
            container.resources = vm_specs.without_extra_swap(request.linux)
            self.ctx.registry.save_container(container)

    def reopen_log(self, container_id: str) -> None:
        container = self.running(container_id, "reopen the log of")
        pump = self.ctx.pump(container.id)
        if pump is not None:
            pump.file.reopen()
