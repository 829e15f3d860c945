"""Hostile input against the shim on the real Docker Engine: huge timeouts are honoured, and the
Engine's refusal of what the request asked for is the caller's INVALID_ARGUMENT, not INTERNAL.

Each test failed before its fix (OverflowError and Docker's 500 came back as INTERNAL)."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import Launch, connect, run_container, shell, wait_for

from harness.client import CallFailed

HUGE_STOP_TIMEOUT = 7075066989706836652  # from issue 12's fuzzing
INT64_MAX = 2**63 - 1


def test_a_huge_stop_timeout_is_a_grace_period_without_end(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch())
    # Exits 0 on SIGTERM: an exit code of 0 shows it was asked to stop, not killed.
    script = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    _, container_id = run_container(client, pod_config, shell(script))
    request = cri.StopContainerRequest(container_id=container_id, timeout=HUGE_STOP_TIMEOUT)
    client.call(client.runtime_stub.StopContainer, request)
    status = client.container_status(container_id).status
    assert (status.state, status.exit_code) == (cri.CONTAINER_EXITED, 0)


def test_a_huge_exec_timeout_lets_the_command_finish(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch())
    _, container_id = run_container(client, pod_config, shell("sleep 1000"))
    request = cri.ExecSyncRequest(container_id=container_id, cmd=["echo", "hi"], timeout=INT64_MAX)
    answer = client.call(client.runtime_stub.ExecSync, request)
    assert (answer.exit_code, answer.stdout) == (0, b"hi\n")


def test_a_sysctl_the_engine_refuses_is_an_invalid_argument_with_its_message(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    client = connect(launch())
    pod_config.linux.sysctls["foo.bar"] = "1"  # no such sysctl; Docker answers 500
    with pytest.raises(CallFailed) as failed:
        client.run_pod(pod_config)
    assert failed.value.code == grpc.StatusCode.INVALID_ARGUMENT, failed.value.details
    assert 'sysctl "foo.bar"' in failed.value.details, "the Engine's own words reach the caller"
    assert client.list_pods() == [], "the refused pod left nothing behind"


@pytest.mark.parametrize("reference", ["../containers", "../../info", "/"])
def test_an_image_reference_that_is_a_path_into_the_engine_api_is_refused(
    launch: Launch, reference: str
) -> None:
    """The fuzz test found that ``../containers`` made the shim read Docker's container list
    as an image (INTERNAL: AttributeError)."""
    client = connect(launch())
    for call, request in [
        (
            client.image_stub.ImageStatus,
            cri.ImageStatusRequest(image=cri.ImageSpec(image=reference)),
        ),
        (
            client.image_stub.ListImages,
            cri.ListImagesRequest(filter=cri.ImageFilter(image=cri.ImageSpec(image=reference))),
        ),
        (
            client.image_stub.RemoveImage,
            cri.RemoveImageRequest(image=cri.ImageSpec(image=reference)),
        ),
    ]:
        with pytest.raises(CallFailed) as failed:
            client.call(call, request)
        assert failed.value.code == grpc.StatusCode.INVALID_ARGUMENT, failed.value.details
        assert "is not an image reference" in failed.value.details


def test_an_endless_exec_ends_when_its_caller_gives_up(
    launch: Launch, pod_config: cri.PodSandboxConfig
) -> None:
    """ExecSync without a timeout held a shim worker (the server has 16) and the command for
    good after its caller's deadline had passed."""
    client = connect(launch())
    _, container_id = run_container(client, pod_config, shell("sleep 1000"))
    request = cri.ExecSyncRequest(container_id=container_id, cmd=["sleep", "777"], timeout=0)
    with pytest.raises(grpc.RpcError) as gave_up:
        client.runtime_stub.ExecSync(request, timeout=2)
    assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    def endless_exec_gone() -> bool:
        return b"777" not in client.exec_sync(container_id, ["ps"], timeout=10).stdout

    wait_for(endless_exec_gone, seconds=10)
