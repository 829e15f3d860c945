"""Hostile input gets a clear refusal and changes nothing on the host (issue 12's findings).

Each test failed against the shim before its fix: the log path escaped the pod's log
directory, huge timeouts ended in OverflowError (INTERNAL), and a bad ``auth`` in INTERNAL
"Incorrect padding".
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend
from shim_helpers import container_config, pod_config, wait_for

from harness.client import CallFailed, CriClient

POD_LOGS = "var/log/pods/ns_p_uid-p"  # the kubelet's shape, under the test's folder


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def logged_pod(client: CriClient, log_directory: str) -> tuple[str, cri.PodSandboxConfig]:
    config = pod_config()
    config.log_directory = log_directory
    return client.run_pod(config), config


def refusal(call_failed: pytest.ExceptionInfo[CallFailed]) -> tuple[grpc.StatusCode, str]:
    return call_failed.value.code, call_failed.value.details


@pytest.mark.parametrize(
    "log_path",
    [
        "../../../../tmp/x/escape.log",  # the example: out of the pod folder
        "main/../../escape.log",
        "..",
        "main/..",
        "/ABSOLUTE/escape.log",  # /ABSOLUTE becomes the test's folder
    ],
)
def test_a_log_path_outside_the_pod_log_directory_is_refused_and_nothing_is_made(
    client: CriClient, tmp_path: Path, log_path: str
) -> None:
    host = tmp_path / "host"
    log_directory = host / POD_LOGS
    log_directory.mkdir(parents=True)
    pod_id, config = logged_pod(client, str(log_directory))
    before = files_under(host)
    container = container_config()
    container.log_path = log_path.replace("/ABSOLUTE", str(host))
    with pytest.raises(CallFailed) as failed:
        client.create_container(pod_id, container, config)
    code, details = refusal(failed)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert "log_path" in details
    assert files_under(host) == before, "a refused log path left something on the host"


@pytest.mark.parametrize(
    "log_directory",
    ["var/log/pods/ns_p_uid", "/var/log/pods/../../../tmp/x", "/var/log/pods/ns/..", ""],
)
def test_a_pod_log_directory_that_is_relative_or_has_dot_dot_is_refused(
    client: CriClient, tmp_path: Path, log_directory: str
) -> None:
    if not log_directory:  # a pod without one is fine, but its containers cannot log
        pod_id, config = logged_pod(client, "")
        container = container_config()
        container.log_path = "main/0.log"
        with pytest.raises(CallFailed) as failed:
            client.create_container(pod_id, container, config)
        assert refusal(failed)[0] == grpc.StatusCode.INVALID_ARGUMENT
        assert "log_directory" in refusal(failed)[1]
        return
    with pytest.raises(CallFailed) as failed:
        logged_pod(client, log_directory)
    code, details = refusal(failed)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert "log_directory" in details


def test_status_reports_the_normalised_log_file_and_the_log_is_there(
    client: CriClient, backend: FakeBackend, tmp_path: Path
) -> None:
    host = tmp_path / "host"
    log_directory = host / POD_LOGS
    pod_id, config = logged_pod(client, f"{log_directory}/")
    container = container_config()
    container.log_path = "main/./x/..//0.log"
    container_id = client.create_container(pod_id, container, config)
    client.start_container(container_id)
    expected = log_directory / "main" / "0.log"
    assert client.container_status(container_id).status.log_path == str(expected)
    vm_id = next(v for v, vm in backend.vms.items() if vm.spec.placement.inside)
    backend.emit(vm_id, "stdout", b"hello")
    wait_for(lambda: expected.exists() and b"hello" in expected.read_bytes())
    parents = [str(parent) for parent in Path(POD_LOGS, "main", "0.log").parents][:-1]
    assert files_under(host) == {f"{POD_LOGS}/main/0.log", *parents}


def test_a_pull_with_auth_that_is_not_base64_is_an_invalid_argument(client: CriClient) -> None:
    # "é": not even ASCII (the fuzz test found it INTERNAL); "/w==": base64 of a byte that is
    # no UTF-8.
    for auth in ("not base64!", "YWJj=", "é", "/w==", base64.b64encode(b"no colon").decode()):
        request = cri.PullImageRequest(
            image=cri.ImageSpec(image="busybox:1.0"), auth=cri.AuthConfig(auth=auth)
        )
        with pytest.raises(CallFailed) as failed:
            client.call(client.image_stub.PullImage, request)
        code, details = refusal(failed)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert "auth.auth" in details


@pytest.mark.parametrize(
    "garbage",
    [b"\xff\xff\xff\xff", b"\x0a\x02\xff\xfe"],  # a broken tag; container_id not UTF-8
    ids=["broken-tag", "not-utf8"],
)
def test_a_request_that_does_not_decode_is_an_invalid_argument_logged_in_one_line(
    client: CriClient, caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    channel = grpc.insecure_channel(client.endpoints.runtime_target)
    send_bytes = channel.unary_unary(
        "/runtime.v1.RuntimeService/ContainerStatus",
        request_serializer=None,
        response_deserializer=None,
    )
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        with pytest.raises(grpc.RpcError) as failed:
            send_bytes(garbage, timeout=10)
        assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failed.value.details()
        assert "ContainerStatus" in (failed.value.details() or "")
    channel.close()
    assert client.version().runtime_name, "the shim still answers"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.exc_info) for r in warnings] == [("WARNING", None)] * 3


@pytest.mark.parametrize("profile", ["/dev/zero", "/nul\0here", "/"])
def test_a_localhost_seccomp_profile_that_is_no_file_is_refused_without_reading_it(
    client: CriClient, profile: str
) -> None:
    """/dev/zero used to be read until the shim ran out of memory; a NUL was INTERNAL."""
    pod_id, config = logged_pod(client, "")
    container = container_config()
    container.linux.security_context.seccomp.profile_type = cri.SecurityProfile.Localhost
    container.linux.security_context.seccomp.localhost_ref = profile
    with pytest.raises(CallFailed) as failed:
        client.create_container(pod_id, container, config)
    assert refusal(failed)[0] == grpc.StatusCode.INVALID_ARGUMENT, refusal(failed)[1]
    assert "seccomp profile" in refusal(failed)[1]


INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("run_as_user", INT64_MAX), ("run_as_user", -1), ("run_as_group", 2**31)],
)
def test_uids_and_gids_beyond_what_linux_runtimes_take_are_refused_naming_the_field(
    client: CriClient, field: str, value: int
) -> None:
    """Docker answered 500 "uids and gids must be in range 0-2147483647": INTERNAL."""
    pod = pod_config()
    getattr(pod.linux.security_context, field).value = value
    with pytest.raises(CallFailed) as failed:
        client.run_pod(pod)
    assert refusal(failed)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert f"pod linux.security_context.{field} {value}" in refusal(failed)[1]
    pod_id, config = logged_pod(client, "")
    container = container_config()
    container.linux.security_context.supplemental_groups.append(value)
    with pytest.raises(CallFailed) as failed:
        client.create_container(pod_id, container, config)
    assert refusal(failed)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert "linux.security_context.supplemental_groups" in refusal(failed)[1]


@pytest.mark.parametrize("field", ["working_dir", "args", "envs", "mounts"])
def test_a_nul_in_a_string_that_reaches_the_kernel_is_refused(
    client: CriClient, field: str
) -> None:
    """A NUL in working_dir was INTERNAL (Docker's 500); in args it was cut off silently."""
    pod_id, config = logged_pod(client, "")
    container = container_config()
    if field == "working_dir":
        container.working_dir = "/a\0b"
    elif field == "args":
        container.args.append("a\0b")
    elif field == "envs":
        container.envs.append(cri.KeyValue(key="A", value="a\0b"))
    else:
        container.mounts.append(cri.Mount(container_path="/x\0", host_path="/tmp"))
    with pytest.raises(CallFailed) as failed:
        client.create_container(pod_id, container, config)
    assert refusal(failed)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal(failed)[1] == f"{field} must not contain a NUL character"


def test_a_refusal_quoting_a_huge_value_still_reaches_the_client(client: CriClient) -> None:
    """Quoting a 100,000-character id made the status header too big for the client, which
    then saw RESOURCE_EXHAUSTED instead of the shim's NOT_FOUND."""
    request = cri.PodSandboxStatusRequest(pod_sandbox_id="x" * 100_000)
    with pytest.raises(CallFailed) as failed:
        client.call(client.runtime_stub.PodSandboxStatus, request)
    code, details = refusal(failed)
    assert code == grpc.StatusCode.NOT_FOUND, details[:200]
    assert len(details) < 5000
    assert details.endswith("more characters)")


def test_an_enum_number_the_api_does_not_define_is_refused_naming_the_field(
    client: CriClient,
) -> None:
    """The fuzz test found an unknown stop_signal INTERNAL (ValueError); an unknown namespace
    mode was the same, and an unknown mount propagation became private without a word."""
    pod_id, config = logged_pod(client, "")
    container = container_config()
    container.stop_signal = -3239858  # type: ignore[assignment]  # out of the enum on purpose
    with pytest.raises(CallFailed) as failed:
        client.create_container(pod_id, container, config)
    assert refusal(failed) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "config.stop_signal -3239858 is not a value of runtime.v1.Signal",
    )
    container = container_config()
    container.mounts.append(cri.Mount(container_path="/m", host_path="/tmp", propagation=7))  # type: ignore[arg-type]  # out of the enum on purpose
    with pytest.raises(CallFailed) as failed:
        client.create_container(pod_id, container, config)
    assert refusal(failed)[1] == (
        "config.mounts[0].propagation 7 is not a value of runtime.v1.MountPropagation"
    )
    config.linux.security_context.namespace_options.network = 9  # type: ignore[assignment]  # out of the enum on purpose
    with pytest.raises(CallFailed) as failed:
        client.run_pod(config)
    assert refusal(failed)[1] == (
        "config.linux.security_context.namespace_options.network 9 is not a value of "
        "runtime.v1.NamespaceMode"
    )
