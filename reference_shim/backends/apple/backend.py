"""VMs as Apple containers, through Apple's ``container`` CLI (macOS).

Every container carries the shim's label and its instance's label; the backend lists, watches
and removes only containers with its instance label (the CLI has no label filter, so lists
are filtered here). Pod sandboxes are modelled (``pods``); a workload placed inside a pod gets
a VM of its own carrying the pod's identity (``placement``). A keeper process per started
container learns its exit code and records its output (``keeper``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

from reference_shim.backends.apple import naming, placement, translate
from reference_shim.backends.apple.cli import CALL_TIMEOUT_S, AppleCli
from reference_shim.backends.apple.documents import AppleContainer, parse_containers
from reference_shim.backends.apple.errors import (
    START_HINT,
    USAGE_EXIT,
    CliResult,
    cli_error,
    error_class,
)
from reference_shim.backends.apple.execution import exec_sync
from reference_shim.backends.apple.images import AppleImages
from reference_shim.backends.apple.keepers import STDIN_LABEL, Keepers
from reference_shim.backends.apple.networks import AppleNetworks
from reference_shim.backends.apple.output import recorded_output
from reference_shim.backends.apple.pods import CARRIER_LABEL, ModelledPod, ModelledPods, lender
from reference_shim.backends.apple.sampler import StatsSampler
from reference_shim.backends.apple.status import await_exit, container_status
from reference_shim.backends.base import (
    Capability,
    ExecResult,
    ProcessUser,
    ResourceSpec,
    VmChange,
    VmChanges,
    VmRole,
    VmSpec,
    VmState,
    VmStats,
    VmStatus,
)
from reference_shim.backends.labels import INSTANCE_LABEL, POD_ID_LABEL, owner_labels
from reference_shim.backends.recorded_output import RecordedOutput
from reference_shim.errors import (
    BackendError,
    BackendUnavailable,
    FailedPrecondition,
    NotFound,
    ShimError,
    Unimplemented,
)
from reference_shim.timestamps import now_ns

STOP_SIGNAL_LABEL = "io.cri-conformance.shim.apple.stop-signal"  # create has no --stop-signal
START_TIMEOUT_S = 180.0  # a cold VM boot, plus unpacking the image on its first use
EXIT_AFTER_STOP_S = 10.0
_POLL_S = 0.05
_WATCH_S = 0.2
_DELETE_ATTEMPTS = 40
_STOPPED_OR_GONE = {NotFound, FailedPrecondition}


class AppleBackend:
    name = "apple"
    models_pods = True
    # One live workload per modelled pod (it carries the pod's identity): no shared pod VM.
    # Pod networks need macOS 26; on macOS 15 making one answers UNIMPLEMENTED.
    capabilities = frozenset({Capability.WORKLOAD_IN_POD_VM, Capability.POD_NETWORKS})

    def __init__(self, cli: AppleCli, state_dir: Path, instance: str) -> None:
        self.cli = cli
        self.instance = instance
        self.images = AppleImages(cli)
        self._pods = ModelledPods(state_dir / "pods")
        self._keepers = Keepers(state_dir / "vms", cli)
        self._labels = owner_labels(instance)
        self._sampler = StatsSampler(cli)
        self._networks = AppleNetworks(cli, instance)

    # -- services and network -----------------------------------------------------------

    def _system_status(self) -> tuple[bool, str]:
        result = self.cli.call("system", "status", "--format", "json")
        status = self.cli.parse_json("system status", result) if result.code == 0 else {}
        if status.get("status") != "running":
            return False, f"Apple's container services are not running; {START_HINT}"
        self.images.app_root = str(status.get("appRoot") or "")
        return True, ""

    def setup(self) -> None:
        ok, why = self._system_status()
        if not ok:
            raise BackendUnavailable(why)
        self._keepers.folder.mkdir(parents=True, exist_ok=True)

    def teardown(self) -> None:
        """Nothing to release: VMs use Apple's builtin network, which the shim never makes."""

    def network(self) -> str:
        return translate.DEFAULT_NETWORK

    def ready(self) -> tuple[bool, str]:
        try:
            return self._system_status()
        except ShimError as error:
            return False, str(error)

    def network_status(self) -> tuple[bool, str]:
        try:
            result = self.cli.call("network", "list", "--format", "json")
            if result.code == USAGE_EXIT:
                return True, ""  # macOS 15: no network commands, only the builtin network
            if result.code != 0:
                return False, f"Apple's networks cannot be listed: {result.message}"
            names = {str(found.get("id")) for found in self.cli.parse_json("networks", result)}
        except ShimError as error:
            return False, str(error)
        if self.network() not in names:
            return False, f"Apple's {self.network()!r} network does not exist; {START_HINT}"
        return True, ""

    # Networks of one pod each (the optional pod-networks capability, for separate-vms).

    def create_pod_network(self, pod_id: str) -> str:
        return self._networks.create(pod_id)

    def remove_pod_network(self, name: str) -> None:
        self._networks.remove(name)

    def pod_networks(self) -> dict[str, str]:
        return self._networks.all()

    # -- what exists ----------------------------------------------------------------------

    def _containers(self) -> list[AppleContainer]:
        documents = self.cli.json("list VMs", "list", "--all", "--format", "json")
        mine = (c for c in parse_containers(documents) if c.labels.get(INSTANCE_LABEL))
        return [c for c in mine if c.labels[INSTANCE_LABEL] == self.instance]

    def _inspect(self, vm_id: str) -> AppleContainer | None:
        documents = self.cli.json_unless_missing(f"inspect VM {vm_id}", "inspect", vm_id)
        return parse_containers(documents)[0] if documents else None

    def _status(self, container: AppleContainer) -> VmStatus:
        return container_status(container, self._keepers.files(container.id))

    def _pod_status(self, pod: ModelledPod, containers: list[AppleContainer]) -> VmStatus:
        if not pod.running:
            return VmStatus(vm_id=pod.handle, state=VmState.EXITED, labels=pod.labels)
        workload = lender(pod, containers)
        ip = workload.ip if workload else ""
        return VmStatus(vm_id=pod.handle, state=VmState.RUNNING, ip=ip, labels=pod.labels)

    def inspect_vm(self, vm_id: str) -> VmStatus:
        pod = self._pods.get(vm_id)
        if pod is not None:
            return self._pod_status(pod, self._containers() if pod.running else [])
        container = self._inspect(vm_id)
        if container is None:
            return VmStatus(vm_id=vm_id, state=VmState.MISSING)
        return self._status(container)

    def list_vms(self) -> dict[str, VmStatus]:
        containers = self._containers()
        found = {c.id: self._status(c) for c in containers}
        found.update({pod.handle: self._pod_status(pod, containers) for pod in self._pods.all()})
        return found

    # -- lifecycle ----------------------------------------------------------------------

    def create_vm(self, spec: VmSpec) -> str:
        if spec.role is VmRole.POD:
            return self._pods.create(spec, self._labels).handle
        identity, carried = placement.identity(spec, self._pods, self._containers, self._status)
        vm_id = naming.vm_id(
            identity.hostname, spec.object_id or hashlib.sha256(spec.name.encode()).hexdigest()
        )
        labels = {**spec.labels, **self._labels}
        if spec.pod_id:  # how ``lender`` finds a pod's containers
            labels[POD_ID_LABEL] = spec.pod_id
        if carried:
            labels[CARRIER_LABEL] = carried
        if spec.stop_signal:
            labels[STOP_SIGNAL_LABEL] = spec.stop_signal
        if spec.stdin:
            labels[STDIN_LABEL] = "true"
        image = spec.image
        if image.startswith("sha256:"):  # the CLI takes names, not ids
            image = self.images.reference_for(image)
        args = translate.create_args(spec, vm_id, image, identity, labels)
        self.cli.run(f"create VM {vm_id}", *args)
        return vm_id

    def start_vm(self, vm_id: str) -> VmStatus:
        if self._pods.set_running(vm_id, True) is not None:
            return self.inspect_vm(vm_id)
        container = self._inspect(vm_id)
        if container is None:
            raise NotFound(f"start VM {vm_id}: Apple has no such container")
        files = self._keepers.launch(container)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            seen = self._inspect(vm_id)
            if seen is not None and seen.state in {"running", "stopping"}:
                break
            exit_record = files.exit_status()
            if exit_record is not None:
                if seen is not None and seen.started_at:
                    break  # it ran, and has already exited
                raise self._keepers.start_failure(vm_id, exit_record.get("exit_code"))
            time.sleep(_POLL_S)
        else:
            raise BackendError(f"VM {vm_id} did not start within {START_TIMEOUT_S:g}s")
        files.write_atomically(files.started, str(now_ns()))
        return self.inspect_vm(vm_id)

    def _tolerate_gone(self, action: str, result: CliResult) -> None:
        """Stop and remove are idempotent: a container already stopped or gone is fine."""
        if result.code != 0 and error_class(result) not in _STOPPED_OR_GONE:
            raise cli_error(action, result)

    def stop_vm(self, vm_id: str, timeout: int, signal: str = "") -> None:
        if self._pods.set_running(vm_id, False) is not None:
            return
        container = self._inspect(vm_id)
        chosen = signal or (container.labels.get(STOP_SIGNAL_LABEL, "") if container else "")
        args = ["stop", "--time", str(timeout), *(["--signal", chosen] if chosen else [])]
        result = self.cli.call(*args, vm_id, timeout=timeout + CALL_TIMEOUT_S)
        self._tolerate_gone(f"stop VM {vm_id}", result)
        await_exit(self._keepers.files(vm_id), EXIT_AFTER_STOP_S)

    def kill_vm(self, vm_id: str) -> None:
        if self._pods.set_running(vm_id, False) is not None:
            return
        result = self.cli.call("kill", "--signal", "KILL", vm_id)  # KILL waits for the exit
        self._tolerate_gone(f"kill VM {vm_id}", result)
        await_exit(self._keepers.files(vm_id), EXIT_AFTER_STOP_S)

    def remove_vm(self, vm_id: str) -> None:
        if self._pods.get(vm_id) is not None:
            self._pods.remove(vm_id)
            return
        for _ in range(_DELETE_ATTEMPTS):
            result = self.cli.call("delete", "--force", vm_id)
            if result.code == 0 or not result.says("stopping"):
                break
            time.sleep(0.25)  # Apple refuses to delete while the state is `stopping`
        self._tolerate_gone(f"remove VM {vm_id}", result)
        await_exit(self._keepers.files(vm_id), EXIT_AFTER_STOP_S)
        self._keepers.forget(vm_id)

    # -- inside a VM --------------------------------------------------------------------

    def cgroup_driver(self) -> str:
        """cgroupfs, the kubelet's default; every cgroup parent is refused all the same
        (``translate.refuse_pod_features``): Apple VMs are in no cgroup of the host."""
        return "cgroupfs"

    def process_user(self, vm_id: str) -> ProcessUser | None:
        """Unknown: Apple's CLI shows neither the workload's process nor its credentials (it
        runs under vminitd inside the VM, out of the host's sight), so ContainerStatus.user is
        left empty rather than filled in from the config."""
        return None

    def exec_sync(self, vm_id: str, argv: list[str], timeout: float | None) -> ExecResult:
        if self._pods.get(vm_id) is not None:
            raise Unimplemented("a modelled pod sandbox has no VM to run commands in")
        return exec_sync(self.cli, vm_id, argv, timeout)

    def update_resources(self, vm_id: str, resources: ResourceSpec) -> None:
        raise Unimplemented(
            "resources cannot be changed: an Apple VM's CPUs and memory are fixed when it "
            "boots, and Apple's container CLI has no update command"
        )

    def read_output(self, vm_id: str, stream: str, since: int) -> RecordedOutput:
        return recorded_output(self._keepers.files(vm_id), frozenset({stream}), since)

    def follow_output(self, vm_id: str, since: int) -> RecordedOutput:
        """stdout and stderr together, as written: what an attach streams."""
        return recorded_output(self._keepers.files(vm_id), frozenset({"stdout", "stderr"}), since)

    def stats(self, vm_id: str) -> VmStats | None:
        pod = self._pods.get(vm_id)
        if pod is None:
            return self._sampler.sample(vm_id)
        workload = lender(pod, self._containers()) if pod.running else None
        sample = self._sampler.sample(workload.id) if workload else None
        if sample is None:
            return None
        # The pod runs nothing itself: CPU and memory are its containers'. Its network is the
        # one of the VM carrying its identity.
        return VmStats(
            timestamp=sample.timestamp, cpu_usage_ns=0, memory_usage=0, memory_working_set=0,
            memory_rss=0, memory_limit=sample.memory_limit, page_faults=0, major_page_faults=0,
            pids=0, network_rx_bytes=sample.network_rx_bytes,
            network_tx_bytes=sample.network_tx_bytes, network_rx_errors=0, network_tx_errors=0,
            writable_layer_bytes=0,
        )  # fmt: skip

    def watch_changes(self, changes: VmChanges, stop: threading.Event) -> None:
        """Report each container whose keeper recorded an exit, or died without one.

        Only exits, found by looking at the keepers every ``_WATCH_S``: later than ``inspect``
        shows them, so the backend never says it follows (``VmChanges``), and the shim asks
        the CLI on each status and list call instead of answering from its records.
        """
        reported: set[str] = set()
        while not stop.wait(_WATCH_S):
            self._keepers.reap()
            for vm_id in list(self._keepers.ended(skip=reported)):
                reported.add(vm_id)
                changes.changed(vm_id, VmChange.EXITED)
