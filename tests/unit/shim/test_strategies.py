"""Where each strategy places a pod's containers, and what it refuses (fake backend)."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import PAUSE, FakeBackend, FakeVmBackend
from shim_helpers import (
    StartShim,
    container_config,
    pod_config,
    refused,
    vm_of,
    vm_of_id,
    wait_for,
    with_pid,
)

from harness.client import CallFailed, CriClient
from reference_shim.backends.base import Capability, Namespace, Placement
from reference_shim.config import ShimConfig
from reference_shim.server import Shim
from reference_shim.strategies import STRATEGIES, ImpossiblePair, strategy_named

POD_SHARED = frozenset({Namespace.NETWORK, Namespace.IPC, Namespace.UTS})


def run(
    client: CriClient, pod: cri.PodSandboxConfig, *containers: cri.ContainerConfig
) -> list[str]:
    """Create and start each container in ``pod``, in order; their ids."""
    pod_id = client.run_pod(pod)
    ids = []
    for config in containers:
        ids.append(client.create_container(pod_id, config, pod))
        client.start_container(ids[-1])
    return [pod_id, *ids]


def verbose(client: CriClient, container_id: str) -> dict[str, object]:
    info: dict[str, object] = json.loads(client.container_status(container_id, True).info["info"])
    return info


# -- shared-vm ------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["shared-vm"])
class TestSharedVm:
    def test_every_container_joins_the_pod_vm_and_pid_pod_shares_its_pids(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        pod_id, first, second = run(
            client,
            pod_config(),
            with_pid(container_config("a"), cri.POD),
            with_pid(container_config("b"), cri.CONTAINER),
        )
        pod_vm = vm_of(backend, pod_id)
        assert pod_vm.spec.placement == Placement.own_vm("fake-net")
        assert vm_of(backend, first).spec.placement == Placement(
            inside=vm_of_id(backend, pod_id), shared=POD_SHARED | {Namespace.PID}
        )
        assert vm_of(backend, second).spec.placement == Placement(
            inside=vm_of_id(backend, pod_id), shared=POD_SHARED
        )
        assert client.pod_status(pod_id).status.network.ip == pod_vm.ip

    def test_each_container_keeps_its_own_vm_config_and_lifecycle(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        web = container_config("web")
        web.envs.append(cri.KeyValue(key="ROLE", value="web"))
        web.linux.security_context.run_as_user.value = 1000
        pod_id, *ids = run(client, pod_config(), web, *(container_config(n) for n in "bcde"))
        assert len({vm_of(backend, c).spec.name for c in ids}) == 5
        web_spec = vm_of(backend, ids[0]).spec
        assert (web_spec.env, web_spec.security.user) == ((("ROLE", "web"),), "1000")
        assert vm_of(backend, ids[1]).spec.env == ()
        client.stop_container(ids[0])
        states = [client.container_status(c).status.state for c in ids]
        assert states == [cri.CONTAINER_EXITED] + [cri.CONTAINER_RUNNING] * 4
        client.remove_pod(pod_id)
        wait_for(lambda: backend.vms == {})  # the pod's teardown, after the answer

    def test_pid_target_joins_the_named_containers_pid_namespace(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        config = pod_config()
        pod_id, target = run(client, config, with_pid(container_config("t"), cri.CONTAINER))
        joiner = client.create_container(
            pod_id, with_pid(container_config("j"), cri.TARGET, target), config
        )
        placement = vm_of(backend, joiner).spec.placement
        assert placement.pid_of == vm_of_id(backend, target)
        assert Namespace.PID not in placement.shared
        with refused(grpc.StatusCode.NOT_FOUND):
            client.create_container(
                pod_id, with_pid(container_config("x"), cri.TARGET, "f" * 64), config
            )
        with refused(grpc.StatusCode.INVALID_ARGUMENT):
            client.create_container(pod_id, with_pid(container_config("y"), cri.TARGET), config)


# -- separate-vms ---------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["separate-vms"])
class TestSeparateVms:
    def test_the_pod_gets_its_own_network_and_the_first_container_its_vm(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        config = pod_config()
        config.hostname = "pod-host"
        config.linux.sysctls["net.ipv4.ip_unprivileged_port_start"] = "0"
        config.dns_config.servers.append("10.9.9.9")
        pod_id, first, second = run(client, config, container_config("a"), container_config("b"))
        network = f"fake-pod-{pod_id[:12]}"
        assert backend.pod_nets == {network: pod_id}
        assert vm_of(backend, pod_id).spec.placement == Placement.own_vm(network)
        assert vm_of(backend, first).spec.placement.inside == vm_of_id(backend, pod_id)
        own = vm_of(backend, second).spec
        assert own.placement == Placement.own_vm(network)
        assert (own.hostname, own.sysctls) == ("pod-host", dict(config.linux.sysctls))
        assert {m.container_path for m in own.mounts} == {"/etc/resolv.conf", "/etc/hosts"}
        assert {m.container_path for m in vm_of(backend, first).spec.mounts} == {
            "/etc/resolv.conf",
            "/etc/hosts",
        }
        assert (verbose(client, first)["in_pod_vm"], verbose(client, first)["vm_ip"]) == (True, "")
        assert verbose(client, second)["vm_ip"] == vm_of(backend, second).ip != ""
        client.remove_pod(pod_id)
        wait_for(lambda: (backend.vms, backend.pod_nets) == ({}, {}))  # the pod's teardown

    def test_every_container_mounts_the_pods_hosts_file_naming_the_pod_ip(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        config = pod_config()
        config.hostname = "pod-host"
        pod_id, *containers = run(client, config, container_config("a"), container_config("b"))
        sources = {
            mount.host_path
            for container in containers
            for mount in vm_of(backend, container).spec.mounts
            if mount.container_path == "/etc/hosts"
        }
        assert len(sources) == 1
        lines = Path(sources.pop()).read_text().splitlines()
        assert "127.0.0.1\tlocalhost" in lines
        assert lines[-1] == f"{client.pod_status(pod_id).status.network.ip}\tpod-host"

    def test_the_pod_vm_takes_the_next_container_once_its_container_exited(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        config = pod_config()
        pod_id, init = run(client, config, container_config("init"))
        backend.exit(vm_of_id(backend, init), 0)
        app = client.create_container(pod_id, container_config("app"), config)
        side = client.create_container(pod_id, container_config("side"), config)
        assert vm_of(backend, app).spec.placement.inside == vm_of_id(backend, pod_id)
        assert vm_of(backend, side).spec.placement.network == f"fake-pod-{pod_id[:12]}"

    def test_pid_target_is_unimplemented_and_pid_pod_gets_the_vms_own(
        self, client: CriClient, backend: FakeBackend
    ) -> None:
        config = pod_config()
        pod_id, first = run(client, config, with_pid(container_config("a"), cri.POD))
        with pytest.raises(CallFailed) as refusal:
            client.create_container(
                pod_id, with_pid(container_config("j"), cri.TARGET, first), config
            )
        assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
        assert "VM of" in refusal.value.details
        second = client.create_container(pod_id, with_pid(container_config("b"), cri.POD), config)
        assert vm_of(backend, first).spec.placement.shared == POD_SHARED | {Namespace.PID}
        assert vm_of(backend, second).spec.placement.shared == frozenset()

    @pytest.mark.parametrize("backend", [FakeVmBackend()])
    def test_without_pod_networks_the_vms_share_the_backends_network(
        self, client: CriClient, backend: FakeVmBackend
    ) -> None:
        pod_id, _, second = run(client, pod_config(), container_config("a"), container_config("b"))
        assert vm_of(backend, pod_id).spec.placement == Placement.own_vm("fake-net")
        assert vm_of(backend, second).spec.placement == Placement.own_vm("fake-net")

    def test_a_restart_removes_pod_networks_no_pod_owns(
        self, start_shim: StartShim, backend: FakeBackend
    ) -> None:
        shim, client = start_shim()
        pod_id = client.run_pod(pod_config())
        shim.stop()
        backend.pod_nets["fake-pod-orphan"] = "gone"
        start_shim()
        assert backend.pod_nets == {f"fake-pod-{pod_id[:12]}": pod_id}


# -- reject ---------------------------------------------------------------------------


def test_reject_refuses_pid_target(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    with refused(grpc.StatusCode.UNIMPLEMENTED):
        client.create_container(pod_id, with_pid(container_config(), cri.TARGET, "a" * 64), config)


def test_reject_runs_containers_one_after_another_in_the_pod_vm(
    client: CriClient, backend: FakeBackend
) -> None:
    """Init containers: each exits before the next is created, so the pod VM is free again."""
    config = pod_config()
    pod_id, first = run(client, config, container_config("init-1"))
    backend.exit(vm_of_id(backend, first), 0)
    second = client.create_container(pod_id, container_config("init-2"), config)
    client.start_container(second)
    client.stop_container(second, timeout=0)
    app = client.create_container(pod_id, container_config("app"), config)
    for container in (first, second, app):
        assert vm_of(backend, container).spec.placement.inside == vm_of_id(backend, pod_id)


@pytest.mark.parametrize("started", [False, True], ids=["created", "running"])
def test_reject_refuses_a_container_while_another_is_live(
    client: CriClient, backend: FakeBackend, started: bool
) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    init = client.create_container(pod_id, container_config("init"), config)
    client.start_container(init)
    backend.exit(vm_of_id(backend, init), 0)
    app = client.create_container(pod_id, container_config("app"), config)
    if started:
        client.start_container(app)
    with pytest.raises(CallFailed) as refusal:
        client.create_container(pod_id, container_config("sidecar"), config)
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "'app'" in refusal.value.details
    assert "one live container per pod" in refusal.value.details


# -- strategy and backend pairs -------------------------------------------------------


class NoSharedVm(FakeBackend):
    """A backend that runs one workload per pod VM only (as Apple's CLI does)."""

    capabilities = FakeBackend.capabilities - {Capability.SHARED_POD_VM}


def test_a_strategy_needing_what_the_backend_lacks_stops_the_shim_at_start(
    tmp_path: Path,
) -> None:
    config = ShimConfig(
        socket=tmp_path / "cri.sock", state_dir=tmp_path / "state", backend="fake",
        strategy="shared-vm", docker_host=None, pod_image=PAUSE, log_level="debug",
    )  # fmt: skip
    with pytest.raises(ImpossiblePair) as refusal:
        Shim(config, backend=NoSharedVm())
    assert str(refusal.value) == (
        "strategy 'shared-vm' needs a backend that runs several workloads inside one pod VM at "
        "once, sharing its network, IPC and UTS namespaces (and its PID namespace when asked); "
        "the fake backend does not (strategies it can run: reject, separate-vms)"
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_runs_on_a_backend_with_every_capability(name: str) -> None:
    assert strategy_named(name, FakeBackend()).name == name


def test_an_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="choose one of reject, shared-vm, separate-vms"):
        strategy_named("two-vms", FakeBackend())
