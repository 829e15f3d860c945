"""The CRI state machine, validation codes and idempotency, served over gRPC (fake backend)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import StartShim, container_config, pod_config, refused, vm_of, wait_for

from harness.client import CallFailed, CriClient

UNKNOWN_ID = "f" * 64


def test_a_pod_runs_ready_with_the_vm_ip(client: CriClient) -> None:
    pod_id = client.run_pod(pod_config())
    status = client.pod_status(pod_id).status
    assert status.state == cri.SANDBOX_READY
    assert status.network.ip.startswith("10.88.0.")
    assert status.metadata.name == "p"


def test_a_duplicate_pod_is_already_exists_but_a_new_attempt_is_not(client: CriClient) -> None:
    client.run_pod(pod_config())
    with refused(grpc.StatusCode.ALREADY_EXISTS):
        client.run_pod(pod_config())
    client.run_pod(pod_config(attempt=1))


def test_a_pod_without_metadata_is_invalid(client: CriClient) -> None:
    with refused(grpc.StatusCode.INVALID_ARGUMENT):
        client.run_pod(cri.PodSandboxConfig())


def test_container_lifecycle_created_running_exited(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    assert client.container_status(container_id).status.state == cri.CONTAINER_CREATED
    client.start_container(container_id)
    status = client.container_status(container_id).status
    assert status.state == cri.CONTAINER_RUNNING
    assert status.started_at > status.created_at > 0
    with refused(grpc.StatusCode.FAILED_PRECONDITION):
        client.start_container(container_id)
    client.stop_container(container_id, timeout=0)
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code, status.reason) == (cri.CONTAINER_EXITED, 137, "Error")
    assert status.finished_at >= status.started_at


def test_create_in_an_unknown_pod_is_not_found_and_in_a_stopped_pod_fails(
    client: CriClient,
) -> None:
    config = pod_config()
    with refused(grpc.StatusCode.NOT_FOUND):
        client.create_container(UNKNOWN_ID, container_config(), config)
    pod_id = client.run_pod(config)
    client.stop_pod(pod_id)
    with refused(grpc.StatusCode.FAILED_PRECONDITION):
        client.create_container(pod_id, container_config(), config)


def test_a_container_of_an_unknown_image_is_not_found(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    missing = container_config()
    missing.image.image = "127.0.0.1:5000/nothing:here"
    with refused(grpc.StatusCode.NOT_FOUND):
        client.create_container(pod_id, missing, config)


def test_reject_refuses_a_second_live_container_but_allows_a_restart(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    first = client.create_container(pod_id, container_config(), config)
    client.start_container(first)
    with pytest.raises(CallFailed) as refusal:
        client.create_container(pod_id, container_config("sidecar"), config)
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "one live container per pod" in refusal.value.details
    with refused(grpc.StatusCode.ALREADY_EXISTS):
        client.create_container(pod_id, container_config(), config)
    client.stop_container(first)
    client.create_container(pod_id, container_config(attempt=1), config)


def test_stop_and_remove_are_idempotent(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    client.stop_container(container_id)
    client.stop_container(container_id)
    client.remove_container(container_id)
    client.remove_container(container_id)
    client.stop_container(container_id)
    client.stop_container(UNKNOWN_ID)
    client.stop_pod(pod_id)
    client.stop_pod(pod_id)
    client.remove_pod(pod_id)
    client.remove_pod(pod_id)
    client.stop_pod(UNKNOWN_ID)
    with refused(grpc.StatusCode.NOT_FOUND):
        client.pod_status(pod_id)
    with refused(grpc.StatusCode.NOT_FOUND):
        client.container_status(container_id)


def test_removing_a_pod_removes_its_running_container_and_vms(
    client: CriClient, backend: FakeBackend
) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    client.remove_pod(pod_id)
    assert client.list_containers() == []
    wait_for(lambda: backend.vms == {})  # the pod's teardown, after the answer


def test_a_workload_exit_shows_with_its_exit_code(client: CriClient, backend: FakeBackend) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    vm_id = next(v for v, vm in backend.vms.items() if vm.spec.placement.inside)
    backend.exit(vm_id, 0)
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code, status.reason) == (cri.CONTAINER_EXITED, 0, "Completed")


def test_container_list_filters_by_pod_prefix_state_and_labels(client: CriClient) -> None:
    configs = [pod_config("a"), pod_config("b")]
    pods = [client.run_pod(config) for config in configs]
    containers = []
    for pod_id, config in zip(pods, configs, strict=True):
        container = container_config()
        container.labels["pod"] = config.metadata.name
        containers.append(client.create_container(pod_id, container, config))
    client.start_container(containers[0])
    by_pod = client.list_containers(cri.ContainerFilter(pod_sandbox_id=pods[1][:12]))
    assert [c.id for c in by_pod] == [containers[1]]
    running = cri.ContainerFilter(state=cri.ContainerStateValue(state=cri.CONTAINER_RUNNING))
    assert [c.id for c in client.list_containers(running)] == [containers[0]]
    by_label = client.list_containers(cri.ContainerFilter(label_selector={"pod": "b"}))
    assert [c.id for c in by_label] == [containers[1]]


def test_exec_sync_needs_a_running_container(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    with refused(grpc.StatusCode.FAILED_PRECONDITION):
        client.exec_sync(container_id, ["true"])
    client.start_container(container_id)
    result = client.exec_sync(container_id, ["echo", "hi"])
    assert (result.exit_code, result.stdout, result.stderr) == (2, b"echo hi", b"err")
    with refused(grpc.StatusCode.INVALID_ARGUMENT):
        client.exec_sync(container_id, [])


def test_update_resources_is_kept_and_reported(client: CriClient, backend: FakeBackend) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    client.start_container(container_id)
    asked = cri.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=64 << 20)
    client.update_container_resources(container_id, asked)
    # No swap limit asked: memory plus swap is limited to the memory (no swap), as containerd.
    wanted = cri.LinuxContainerResources(
        cpu_shares=512, memory_limit_in_bytes=64 << 20, memory_swap_limit_in_bytes=64 << 20
    )
    assert client.container_status(container_id).status.resources.linux == wanted
    vm = next(vm for vm in backend.vms.values() if vm.spec.placement.inside)
    assert vm.resources is not None
    limits = (vm.resources.cpu_shares, vm.resources.memory_limit, vm.resources.memory_swap_limit)
    assert limits == (512, 64 << 20, 64 << 20)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda c: c.exec_url(cri.ExecRequest(container_id=UNKNOWN_ID, cmd=["sh"])), "streaming"),
        (lambda c: c.port_forward_url(UNKNOWN_ID, [80]), "streaming"),
        (
            lambda c: c.call(c.runtime_stub.CheckpointContainer, cri.CheckpointContainerRequest()),
            "checkpoint",
        ),
    ],
)
def test_what_the_shim_lacks_is_unimplemented_with_a_reason(
    client: CriClient, call: Callable[[CriClient], object], reason: str
) -> None:
    with pytest.raises(CallFailed) as refusal:
        call(client)
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert reason in refusal.value.details


def test_status_reports_network_ready_from_the_backend(
    start_shim: StartShim, backend: FakeBackend
) -> None:
    _, client = start_shim()
    conditions = {c.type: c.status for c in client.status().status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}
    backend.network_exists = False
    network = next(c for c in client.status().status.conditions if c.type == "NetworkReady")
    assert (network.status, network.reason) == (False, "NetworkNotReady")


def test_stats_come_from_the_vms_and_a_pod_sums_its_vm_and_container(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container_id = client.create_container(pod_id, container_config(), config)
    assert not client.container_stats(container_id).HasField("cpu")  # not running yet
    client.start_container(container_id)
    stats = client.container_stats(container_id)
    assert (stats.attributes.id, stats.cpu.usage_core_nano_seconds.value) == (container_id, 1000)
    assert stats.memory.working_set_bytes.value == 1500
    assert stats.writable_layer.used_bytes.value == 4096
    pod = client.pod_stats(pod_id)
    assert pod.linux.cpu.usage_core_nano_seconds.value == 2000
    assert pod.linux.process.process_count.value == 4
    assert [c.attributes.id for c in pod.linux.containers] == [container_id]
    assert [s.attributes.id for s in client.list_container_stats()] == [container_id]
    assert [s.attributes.id for s in client.list_pod_stats()] == [pod_id]
    with refused(grpc.StatusCode.NOT_FOUND):
        client.container_stats(UNKNOWN_ID)


def test_an_unhonoured_field_is_unimplemented_naming_it_before_any_vm_is_made(
    client: CriClient, backend: FakeBackend
) -> None:
    pod = pod_config()
    pod.linux.security_context.selinux_options.level = "s0:c1,c2"
    with pytest.raises(CallFailed) as refusal:
        client.run_pod(pod)
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "linux.security_context.selinux_options" in refusal.value.details
    assert (backend.vms, client.list_pods()) == ({}, [])
    config = pod_config("q")
    pod_id = client.run_pod(config)
    container = container_config()
    container.CDI_devices.add(name="vendor.com/gpu=0")
    with pytest.raises(CallFailed) as refusal:
        client.create_container(pod_id, container, config)
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "CDI_devices" in refusal.value.details
    assert len(backend.vms) == 1  # the pod's only


def test_the_sandbox_security_context_reaches_the_pod_vm(
    client: CriClient, backend: FakeBackend
) -> None:
    config = pod_config()
    context = config.linux.security_context
    context.run_as_user.value = 1000
    context.readonly_rootfs = True
    context.seccomp.profile_type = cri.SecurityProfile.RuntimeDefault
    security = vm_of(backend, client.run_pod(config)).spec.security
    assert (security.user, security.readonly_rootfs, security.seccomp) == ("1000", True, "")


def test_an_update_may_not_change_the_oom_score(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container = container_config()
    container.linux.resources.oom_score_adj = 500
    container_id = client.create_container(pod_id, container, config)
    client.update_container_resources(
        container_id, cri.LinuxContainerResources(oom_score_adj=500, cpu_shares=512)
    )
    with pytest.raises(CallFailed) as refusal:
        client.update_container_resources(
            container_id, cri.LinuxContainerResources(oom_score_adj=0, cpu_shares=512)
        )
    assert refusal.value.code is grpc.StatusCode.UNIMPLEMENTED
    assert "oom_score_adj" in refusal.value.details
    reported = client.container_status(container_id).status.resources.linux
    assert (reported.oom_score_adj, reported.cpu_shares) == (500, 512)


def test_status_and_list_report_the_image_as_the_client_named_it(client: CriClient) -> None:
    config = pod_config()
    pod_id = client.run_pod(config)
    container = container_config()
    container.image.user_specified_image = "busybox"
    container.image.annotations["io.example/os.version"] = "any"
    container_id = client.create_container(pod_id, container, config)
    expected = cri.ImageSpec(
        image=container.image.image,
        user_specified_image="busybox",
        annotations={"io.example/os.version": "any"},
    )
    assert client.container_status(container_id).status.image == expected
    [listed] = client.list_containers()
    assert listed.image == expected
