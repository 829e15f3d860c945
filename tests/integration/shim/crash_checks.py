"""What a shim restarted after SIGKILL must show: the journal's OK answers, the engine's truth.

Each check returns the problems it found (empty when all is well), so a failing run names
every one of them at once. The engine side is read from Docker itself, never through the shim:
the containers and networks carrying the shim instance's label.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from crash_burst import CONTAINER_NAME, GREETING, PodRun, Step
from cri_api.v1 import api_pb2 as cri

from harness.client import CriClient
from reference_shim.backends.labels import INSTANCE_LABEL, POD_ID_LABEL
from reference_shim.cri.convert.vm_specs import CONTAINER_ID_LABEL

# Docker's states for a container, as each CRI state must see them.
_RUNNING = {"running", "paused", "restarting"}
GREETING_LINE = f" stdout F {GREETING}".encode()
_POD_STATES = {cri.SANDBOX_READY: "READY", cri.SANDBOX_NOTREADY: "NOTREADY"}


@dataclass(frozen=True)
class EngineObject:
    """A Docker container of the shim instance, as Docker sees it."""

    vm_id: str
    name: str
    status: str  # Docker's: created, running, exited, ...
    created: str
    exit_code: int
    pod_id: str
    container_id: str


@dataclass
class ShimView:
    """Every pod and container the shim lists, with its status and its VM (verbose)."""

    pods: dict[str, cri.PodSandboxStatus]
    containers: dict[str, cri.ContainerStatus]
    vm_of: dict[str, str]  # CRI id -> the VM the shim says it is
    network_of: dict[str, str]  # pod id -> its network (the shared one, or its own)
    pod_of: dict[str, str]  # container id -> pod id
    shared_network: str  # the network of pods without one of their own

    def pods_named(self, name: str) -> list[str]:
        return [pod_id for pod_id, pod in self.pods.items() if pod.metadata.name == name]

    def containers_of(self, pod_id: str) -> list[str]:
        return [c for c, owner in self.pod_of.items() if owner == pod_id]


def _verbose(info: dict[str, str]) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(info["info"])
    return details


def shim_view(client: CriClient) -> ShimView:
    shared = _verbose(dict(client.status(verbose=True).info))["network"]
    view = ShimView({}, {}, {}, {}, {}, str(shared))
    for pod in client.list_pods():
        response = client.pod_status(pod.id, verbose=True)
        details = _verbose(dict(response.info))
        view.pods[pod.id] = response.status
        view.vm_of[pod.id] = str(details["vm_id"])
        view.network_of[pod.id] = str(details["network"])
    for container in client.list_containers():
        status_response = client.container_status(container.id, verbose=True)
        view.containers[container.id] = status_response.status
        view.vm_of[container.id] = str(_verbose(dict(status_response.info))["vm_id"])
        view.pod_of[container.id] = container.pod_sandbox_id
    return view


@dataclass(frozen=True)
class Engine:
    """The shim instance's Docker containers (by id) and networks (name: when made)."""

    objects: dict[str, EngineObject]
    networks: dict[str, str]

    @classmethod
    def read(cls, api: docker.APIClient, instance: str) -> Engine:
        selector = {"label": f"{INSTANCE_LABEL}={instance}"}
        objects = {}
        for summary in api.containers(all=True, filters=selector):
            try:
                document = api.inspect_container(summary["Id"])  # the exit code is not listed
            except docker.errors.NotFound:
                continue  # removed between the list and the inspection
            labels = document["Config"]["Labels"] or {}
            objects[document["Id"]] = EngineObject(
                vm_id=document["Id"],
                name=document["Name"].lstrip("/"),
                status=document["State"]["Status"],
                created=document["Created"],
                exit_code=int(document["State"]["ExitCode"]),
                pod_id=labels.get(POD_ID_LABEL, ""),
                container_id=labels.get(CONTAINER_ID_LABEL, ""),
            )
        networks = {str(n["Name"]): str(n["Created"]) for n in api.networks(filters=selector)}
        return cls(objects, networks)


# -- the journal ------------------------------------------------------------------------


def _expected_container_states(run: PodRun) -> set[cri.ContainerState.ValueType]:
    """What the container may be in, given which of its steps answered OK."""
    if not run.attempted(Step.START):
        return {cri.CONTAINER_CREATED}
    if run.interrupted is Step.START:
        return {cri.CONTAINER_CREATED, cri.CONTAINER_RUNNING}
    if not run.attempted(Step.STOP):
        return {cri.CONTAINER_RUNNING}
    if run.interrupted is Step.STOP:
        return {cri.CONTAINER_RUNNING, cri.CONTAINER_EXITED}
    return {cri.CONTAINER_EXITED}


def _state_names(states: set[cri.ContainerState.ValueType]) -> str:
    return "/".join(sorted(cri.ContainerState.Name(state) for state in states))


def check_journal(runs: list[PodRun], view: ShimView) -> list[str]:
    """Every OK answer is reflected; every interrupted create is complete or absent."""
    problems: list[str] = []
    for run in runs:
        if not run.attempted(Step.RUN_POD):
            continue
        if Step.RUN_POD not in run.ok:
            problems += _interrupted_pod(run, view)
        elif Step.REMOVE_POD in run.ok:
            left = [run.pod_id, run.container_id] if run.container_id else [run.pod_id]
            problems += [
                f"{run.name}: {object_id} is listed after RemovePodSandbox answered OK"
                for object_id in left
                if object_id in view.pods or object_id in view.containers
            ]
        elif not run.attempted(Step.REMOVE_POD):
            problems += _live_pod(run, view)
    return problems


def _interrupted_pod(run: PodRun, view: ShimView) -> list[str]:
    found = view.pods_named(run.name)
    if len(found) > 1:
        return [f"{run.name}: one interrupted RunPodSandbox left {len(found)} pods"]
    if found and view.pods[found[0]].state != cri.SANDBOX_READY:
        return [f"{run.name}: an interrupted RunPodSandbox left a half-made pod {found[0]}"]
    return []


def _live_pod(run: PodRun, view: ShimView) -> list[str]:
    pod = view.pods.get(run.pod_id)
    if pod is None:
        return [f"{run.name}: pod {run.pod_id} answered OK to RunPodSandbox and is gone"]
    problems = []
    if pod.state != cri.SANDBOX_READY:
        problems.append(f"{run.name}: pod {run.pod_id} is {_POD_STATES[pod.state]}, not READY")
    if Step.CREATE in run.ok:
        container = view.containers.get(run.container_id)
        expected = _expected_container_states(run)
        if container is None:
            problems.append(
                f"{run.name}: container {run.container_id} answered OK to CreateContainer "
                "and is gone"
            )
        elif container.state not in expected:
            problems.append(
                f"{run.name}: container {run.container_id} is "
                f"{cri.ContainerState.Name(container.state)}, expected {_state_names(expected)}"
            )
    elif run.interrupted is Step.CREATE:
        ours = [c for c in view.containers_of(run.pod_id) if _is_ours(view, c)]
        if len(ours) > 1:
            problems.append(f"{run.name}: one interrupted CreateContainer left {len(ours)}")
        elif ours and view.containers[ours[0]].state != cri.CONTAINER_CREATED:
            state = cri.ContainerState.Name(view.containers[ours[0]].state)
            problems.append(
                f"{run.name}: an interrupted CreateContainer left {ours[0]} {state}, not CREATED"
            )
    return problems


def _is_ours(view: ShimView, container_id: str) -> bool:
    return view.containers[container_id].metadata.name == CONTAINER_NAME


# -- the engine -------------------------------------------------------------------------


def _engine_state_problem(kind: str, object_id: str, state: str, vm: EngineObject | None) -> str:
    seen = vm.status if vm else "absent"
    return f"{kind} {object_id} is {state} but its VM is {seen} in Docker"


def check_engine_consistency(view: ShimView, engine: Engine) -> list[str]:
    """Each listed object's state is what Docker says of its VM; a ready pod has its network."""
    problems: list[str] = []
    for pod_id, pod in view.pods.items():
        vm = engine.objects.get(view.vm_of[pod_id])
        running = vm is not None and vm.status in _RUNNING
        if (pod.state == cri.SANDBOX_READY) != running:
            problems.append(_engine_state_problem("pod", pod_id, _POD_STATES[pod.state], vm))
        network = view.network_of[pod_id]
        if pod.state == cri.SANDBOX_READY and network not in engine.networks:
            problems.append(f"pod {pod_id} is READY on network {network}, absent in Docker")
    for container_id, container in view.containers.items():
        vm = engine.objects.get(view.vm_of[container_id])
        state = cri.ContainerState.Name(container.state)
        if container.state == cri.CONTAINER_CREATED:
            consistent = vm is not None and vm.status == "created"
        elif container.state == cri.CONTAINER_RUNNING:
            consistent = vm is not None and vm.status in _RUNNING
        else:  # EXITED: its VM exited (with the same code) or vanished
            consistent = vm is None or (
                vm.status not in _RUNNING | {"created"} and vm.exit_code == container.exit_code
            )
        if not consistent:
            problems.append(_engine_state_problem("container", container_id, state, vm))
    return problems


def check_orphans(view: ShimView, engine: Engine) -> list[str]:
    """Nothing the engine holds for this shim instance is unknown to the shim."""
    known_vms = set(view.vm_of.values())
    problems = [
        f"Docker container {vm.name} ({vm.vm_id[:12]}, {vm.status}, made {vm.created}) is no "
        "object of the shim"
        for vm in engine.objects.values()
        if vm.vm_id not in known_vms
    ]
    known_networks = {view.shared_network, *view.network_of.values()}
    problems += [
        f"Docker network {name} (made {created}) belongs to no pod of the shim"
        for name, created in engine.networks.items()
        if name not in known_networks
    ]
    return problems


def _logged(path: str, line: bytes) -> bool:
    try:
        return any(entry.endswith(line) for entry in Path(path).read_bytes().splitlines())
    except FileNotFoundError:
        return False


def check_logs(view: ShimView, api: docker.APIClient, engine: Engine, wait_s: float) -> list[str]:
    """What a container's VM printed (by Docker's own logs) reaches its CRI log file."""
    missing = {}
    for container_id, container in view.containers.items():
        vm = engine.objects.get(view.vm_of[container_id])
        printed = api.logs(vm.vm_id, stdout=True, stderr=False) if vm else b""
        if f"{GREETING}\n".encode() in printed:
            missing[container_id] = container.log_path
    deadline = time.monotonic() + wait_s
    while missing and time.monotonic() < deadline:
        missing = {c: path for c, path in missing.items() if not _logged(path, GREETING_LINE)}
        time.sleep(0.2)
    return [
        f"container {container_id} printed {GREETING!r} (Docker's logs), its log {path} lacks it"
        for container_id, path in missing.items()
    ]


def check_pod_dirs(state_dir: Path, view: ShimView) -> list[str]:
    """The shim's per-pod files (hosts, resolv.conf) exist only for pods it knows."""
    pods_dir = state_dir / "pods"
    found = [entry.name for entry in pods_dir.iterdir()] if pods_dir.is_dir() else []
    return [
        f"state dir keeps files of unknown pod {name}" for name in found if name not in view.pods
    ]
