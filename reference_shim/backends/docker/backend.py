"""VMs as Docker containers on the shim's own Docker networks.

Every object carries the shim's label and its instance's label; the backend only ever lists,
watches or removes objects with its instance label, so two shims on one Docker Engine never
touch each other's VMs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors

from reference_shim.backends import refusals
from reference_shim.backends.base import (
    Capability,
    ExecResult,
    OutputStream,
    ProcessUser,
    ResourceSpec,
    VmChange,
    VmChanges,
    VmSpec,
    VmState,
    VmStats,
    VmStatus,
)
from reference_shim.backends.docker.cgroup_oom import CgroupOomWatch
from reference_shim.backends.docker.engine_client import engine_client
from reference_shim.backends.docker.errors import docker_errors
from reference_shim.backends.docker.events import DockerEvents
from reference_shim.backends.docker.exec_kill import kill_exec
from reference_shim.backends.docker.exec_stream import read_all
from reference_shim.backends.docker.execs import (
    EXIT_CODE_WAIT_S,
    exec_exit_code,
    exec_never_started,
)
from reference_shim.backends.docker.image_volumes import DockerImageVolumes
from reference_shim.backends.docker.images import DockerImages
from reference_shim.backends.docker.networks import DockerNetworks
from reference_shim.backends.docker.output import DockerOutput, NoOutput
from reference_shim.backends.docker.processes import main_process_user
from reference_shim.backends.docker.stats import to_vm_stats
from reference_shim.backends.docker.translate import (
    UNHONOURED,
    create_args,
    extra_config,
    extra_host_config,
    host_config_args,
    resource_args,
)
from reference_shim.backends.labels import owner_filter, owner_labels
from reference_shim.errors import BackendError, CommandNotStarted, DeadlineExceeded
from reference_shim.timestamps import parse_rfc3339_nano

log = logging.getLogger(__name__)

_API_TIMEOUT_S = 120


def _own_ip(document: dict[str, Any]) -> str:
    """The IP on the network the VM was created on; "" for a VM inside another's network."""
    mode = str((document.get("HostConfig") or {}).get("NetworkMode") or "")
    networks = (document.get("NetworkSettings") or {}).get("Networks") or {}
    return str((networks.get(mode) or {}).get("IPAddress") or "")


def _status_of(document: dict[str, Any]) -> VmStatus:
    state = document.get("State") or {}
    docker_status = str(state.get("Status", ""))
    if docker_status == "created":
        vm_state = VmState.CREATED
    elif docker_status in {"running", "paused", "restarting"}:
        vm_state = VmState.RUNNING
    else:
        vm_state = VmState.EXITED
    started_at = parse_rfc3339_nano(str(state.get("StartedAt", "")))
    finished_at = 0
    if vm_state is VmState.EXITED:
        # Docker stamps StartedAt when its start call returns and FinishedAt from the exit
        # event, so a process that exits at once can finish "before" it started; the contract
        # says a VM never finishes before it started.
        finished_at = max(parse_rfc3339_nano(str(state.get("FinishedAt", ""))), started_at)
    return VmStatus(
        vm_id=str(document["Id"]),
        state=vm_state,
        exit_code=int(state["ExitCode"]) if vm_state is VmState.EXITED else None,
        started_at=started_at,
        finished_at=finished_at,
        ip=_own_ip(document),
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        labels=dict((document.get("Config") or {}).get("Labels") or {}),
    )


class DockerBackend:
    name = "docker"
    models_pods = False  # a pod VM is a pause container with its own IP
    # containers join the pause container's namespaces; no USER_NAMESPACES: Engine 20.10 has
    # only the daemon-wide userns-remap, no user namespace per container with its own mappings
    capabilities = frozenset(
        {Capability.WORKLOAD_IN_POD_VM, Capability.SHARED_POD_VM, Capability.POD_NETWORKS}
    )

    def __init__(self, base_url: str, instance: str) -> None:
        # The SDK is untyped.
        self._api: Any = engine_client(base_url, _API_TIMEOUT_S)
        self.base_url = base_url
        self.instance = instance
        self.images = DockerImages(self._api)
        self._networks = DockerNetworks(self._api, instance)
        self._labels = owner_labels(instance)
        self._image_volumes = DockerImageVolumes(self._api, self._labels, instance)
        self._events = DockerEvents(self._api, owner_filter(instance))
        self._cgroup_driver = ""
        self._cgroup_oom: CgroupOomWatch | None = None  # set up with the Engine's info
        # The VMs this process made, by id: the VM name their image volumes carry ("" for
        # none), so removing one is a single Engine call. A VM made before a restart is
        # inspected for its name first.
        self._volumes_of: dict[str, str] = {}

    # -- networks -----------------------------------------------------------------------

    def network(self) -> str:
        return self._networks.shared

    def setup(self) -> None:
        self._networks.ensure_shared()
        self._image_volumes.remove_orphans()
        self._events.start()
        self.images.events.start()
        self._cgroup_oom = CgroupOomWatch.for_engine(
            self._api.info(), self.base_url, self._cgroup_oom_killed
        )
        if self._cgroup_oom is not None:
            self._cgroup_oom.start()

    def _cgroup_oom_killed(self, vm_id: str) -> None:
        self._events.report(vm_id, VmChange.OOM_KILLED)

    def ready(self) -> tuple[bool, str]:
        try:
            self._api.ping()
        except Exception as error:  # any failure means Docker cannot run VMs now
            return False, f"Docker Engine at {self.base_url} does not answer: {error}"
        return True, ""

    def cgroup_driver(self) -> str:
        """Docker's own (``docker info``): it puts a container under ``CgroupParent`` itself."""
        if not self._cgroup_driver:
            with docker_errors("ask Docker for its cgroup driver"):
                self._cgroup_driver = str(self._api.info().get("CgroupDriver") or "cgroupfs")
        return self._cgroup_driver

    def network_status(self) -> tuple[bool, str]:
        return self._networks.shared_status()

    def teardown(self) -> None:
        self._events.stop()
        self.images.events.stop()
        if self._cgroup_oom is not None:
            self._cgroup_oom.stop()
        if not self.list_vms():
            self._networks.remove_all()

    def create_pod_network(self, pod_id: str) -> str:
        return self._networks.create_pod_network(pod_id)

    def remove_pod_network(self, name: str) -> None:
        self._networks.remove_pod_network(name)

    def pod_networks(self) -> dict[str, str]:
        return self._networks.pod_networks()

    # -- lifecycle ----------------------------------------------------------------------

    def create_vm(self, spec: VmSpec) -> str:
        refusals.refuse(refusals.asked(spec), UNHONOURED)
        image_volumes = self._image_volumes.create(spec.name, spec.image_mounts)
        try:
            with docker_errors(f"create VM {spec.name}"):
                host_config = self._api.create_host_config(**host_config_args(spec, image_volumes))
                host_config.update(extra_host_config(spec))
                args = {**create_args(spec), "labels": {**spec.labels, **self._labels}}
                name = args.pop("name")
                config = self._api.create_container_config(host_config=host_config, **args)
                config.update(extra_config(spec))
                created = self._api.create_container_from_config(config, name)
        except BaseException:
            if image_volumes:
                self._image_volumes.remove_of(spec.name)
            raise
        vm_id = str(created["Id"])
        self._volumes_of[vm_id] = spec.name if image_volumes else ""
        if self._cgroup_oom is not None:  # before the start: an OOM may come at once
            self._cgroup_oom.watch(vm_id, str(host_config.get("CgroupParent") or ""))
        return vm_id

    def start_vm(self, vm_id: str) -> VmStatus:
        with docker_errors(f"start VM {vm_id[:12]}"):
            self._api.start(vm_id)
        return self.inspect_vm(vm_id)

    def stop_vm(self, vm_id: str, timeout: int, signal: str = "") -> None:
        with self._stopping(f"stop VM {vm_id[:12]}"):
            if signal:
                self._api.kill(vm_id, signal=signal)
            self._api.stop(vm_id, timeout=timeout)

    def kill_vm(self, vm_id: str) -> None:
        with self._stopping(f"kill VM {vm_id[:12]}"):
            self._api.kill(vm_id, signal="SIGKILL")
            self._api.wait(vm_id, timeout=_API_TIMEOUT_S)

    @contextlib.contextmanager
    def _stopping(self, action: str) -> Iterator[None]:
        """Stop and kill are idempotent: a VM already stopped or gone is left as it is."""
        with docker_errors(action):
            try:
                yield
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as error:
                if error.status_code != 409:  # 409: not running any more
                    raise

    def remove_vm(self, vm_id: str) -> None:
        volumes_of = self._volumes_of.pop(vm_id, None)
        with docker_errors(f"remove VM {vm_id[:12]}"), contextlib.suppress(docker.errors.NotFound):
            if volumes_of is None:
                volumes_of = str(self._api.inspect_container(vm_id)["Name"]).lstrip("/")
            self._api.remove_container(vm_id, force=True)
        if volumes_of:
            self._image_volumes.remove_of(volumes_of)
        self._events.forget(vm_id)
        if self._cgroup_oom is not None:
            self._cgroup_oom.forget(vm_id)

    def inspect_vm(self, vm_id: str) -> VmStatus:
        with docker_errors(f"inspect VM {vm_id[:12]}"):
            try:
                status = _status_of(self._api.inspect_container(vm_id))
            except docker.errors.NotFound:
                return VmStatus(vm_id=vm_id, state=VmState.MISSING)
        cgroup_oom = self._cgroup_oom is not None and self._cgroup_oom.was_killed(status.vm_id)
        if self._events.was_killed(status.vm_id) or cgroup_oom:
            return dataclasses.replace(status, oom_killed=True)
        return status

    def list_vms(self) -> dict[str, VmStatus]:
        with docker_errors("list VMs"):
            summaries = self._api.containers(
                all=True, filters={"label": owner_filter(self.instance)}
            )
            found = {}
            for summary in summaries:
                status = self.inspect_vm(str(summary["Id"]))
                if status.state is not VmState.MISSING:
                    found[status.vm_id] = status
            return found

    # -- inside a VM --------------------------------------------------------------------

    def process_user(self, vm_id: str) -> ProcessUser | None:
        with docker_errors(f"inspect VM {vm_id[:12]}"):
            try:
                document = self._api.inspect_container(vm_id)
            except docker.errors.NotFound:
                return None
        return main_process_user(document)

    def exec_sync(self, vm_id: str, argv: list[str], timeout: float | None) -> ExecResult:
        with docker_errors(f"exec in VM {vm_id[:12]}"):
            exec_id = self._api.exec_create(vm_id, argv, stdout=True, stderr=True)["Id"]
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["output"] = read_all(self._api.exec_start(exec_id, socket=True))
            except Exception as error:  # handed to the caller's thread
                outcome["error"] = error

        runner = threading.Thread(target=run, daemon=True, name=f"exec-{vm_id[:12]}")
        runner.start()
        runner.join(timeout)
        if runner.is_alive():
            self._kill_exec(exec_id, vm_id)
            raise DeadlineExceeded(
                f"command {argv!r} did not finish within its timeout of {timeout:g}s; it was killed"
            )
        if "error" in outcome:
            with docker_errors(f"exec in VM {vm_id[:12]}"):
                raise outcome["error"]
        stdout, stderr = outcome["output"]
        with docker_errors(f"exec in VM {vm_id[:12]}"):
            exit_code = exec_exit_code(self._api, exec_id)
            never_started = exit_code != 0 and exec_never_started(self._api, exec_id)
        if exit_code is None:
            raise BackendError(
                f"command {argv!r}: Docker reported no exit code for the exec within "
                f"{EXIT_CODE_WAIT_S:g}s after its output ended"
            )
        if never_started:
            reason = (stdout or b"").decode(errors="replace").strip()
            raise CommandNotStarted(f"could not start {argv!r} in VM {vm_id[:12]}: {reason}")
        return ExecResult(exit_code=exit_code, stdout=stdout or b"", stderr=stderr or b"")

    def _kill_exec(self, exec_id: str, vm_id: str) -> None:
        """Docker has no call to kill an exec; its host PIDs are ours too (local Engine)."""
        try:
            kill_exec(self._api, exec_id, vm_id)
        except (docker.errors.APIError, PermissionError) as error:
            log.warning("could not kill timed-out exec %s: %s", exec_id[:12], error)

    def update_resources(self, vm_id: str, resources: ResourceSpec) -> None:
        refusals.refuse(refusals.resources_asked(resources), UNHONOURED)
        with docker_errors(f"update resources of VM {vm_id[:12]}"):
            self._api.update_container(vm_id, **resource_args(resources))

    def read_output(self, vm_id: str, stream: str, since: int) -> OutputStream:
        with docker_errors(f"read output of VM {vm_id[:12]}"):
            tty = bool(self._api.inspect_container(vm_id)["Config"].get("Tty"))
            if tty and stream == "stderr":
                return NoOutput()
            response = self._api.logs(
                vm_id,
                stdout=stream == "stdout",
                stderr=stream == "stderr",
                stream=True,
                follow=True,
                timestamps=True,
                since=since // 1_000_000_000 or None,  # whole seconds: DockerOutput cuts finer
            )
        return DockerOutput(response, stream, tty, since)

    def stats(self, vm_id: str) -> VmStats | None:
        with docker_errors(f"stats of VM {vm_id[:12]}"):
            try:
                document = self._api.stats(vm_id, stream=False, one_shot=True)
                sizes = self._api.containers(all=True, size=True, filters={"id": vm_id})
            except docker.errors.NotFound:
                return None
            except ValueError:
                # Docker answers an empty body for a container it is removing; a VM that is
                # going away has no stats (a list of every pod's stats must not fail for it).
                if self.inspect_vm(vm_id).state is not VmState.RUNNING:
                    return None
                raise
        writable = int(sizes[0].get("SizeRw") or 0) if sizes else 0
        return to_vm_stats(document, writable)

    def watch_changes(self, changes: VmChanges, stop: threading.Event) -> None:
        """From Docker's event stream, which the backend follows from ``setup`` on."""
        self._events.watch(changes, stop)
