"""The CLI's failures (one `Error:` line, exit 1, or 64 for usage) as gRPC codes."""

# The error texts are the CLI's, verbatim, one per line.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from apple_double import BUSYBOX, CliDouble
from cri_specs import container_config, container_spec, create, pod_config, run_pod

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.apple.cli import AppleCli
from reference_shim.backends.apple.errors import CliResult, cli_error
from reference_shim.backends.base import VmState
from reference_shim.errors import ShimError

MISSING = "nobody.000000000000"
CODE = grpc.StatusCode


@pytest.mark.parametrize(
    ("stderr", "code"),
    [
        ("Error: container not found: a, b", CODE.NOT_FOUND),
        ("Error: get failed: container x not found", CODE.NOT_FOUND),
        ('Error: internalError: "failed to stop container" (cause: "notFound: "container with ID x not found"")', CODE.NOT_FOUND),
        ("Error: no such container: x", CODE.NOT_FOUND),
        ("Error: image not found: docker.io/library/nope:latest", CODE.NOT_FOUND),
        ("Error: HTTP request to https://r/v2/a/manifests/b failed with response: 404 Not Found", CODE.NOT_FOUND),
        ("Error: HTTP request to https://registry-1.docker.io/v2/x failed with response: 401 Unauthorized", CODE.NOT_FOUND),
        ("Error: container with id x already exists", CODE.ALREADY_EXISTS),
        ("Error: container already exists: x", CODE.ALREADY_EXISTS),
        ('Error: hostname(s) already exist: ["x"]', CODE.ALREADY_EXISTS),
        ("Error: container ID x! is not a valid container ID", CODE.INVALID_ARGUMENT),
        ("Error: container x is not running", CODE.FAILED_PRECONDITION),
        ('Error: internalError: "failed to kill container" (cause: "invalidState: "no runtime client exists: container is stopped"")', CODE.FAILED_PRECONDITION),
        ('Error: internalError: "failed to delete container" (cause: "invalidState: "container x is running and can not be deleted"")', CODE.FAILED_PRECONDITION),
        ("Error: minimum memory amount allowed is 200 MiB (got 104857600 bytes)", CODE.UNIMPLEMENTED),
        ("Error: non-default network configuration requires macOS 26 or newer", CODE.UNIMPLEMENTED),
        ("Error: XPC connection error\nEnsure container system service has been started with `container system start`.", CODE.UNAVAILABLE),
        ("Error: something nobody has seen before", CODE.INTERNAL),
    ],
)  # fmt: skip
def test_error_texts_map_to_codes(stderr: str, code: grpc.StatusCode) -> None:
    error = cli_error("act", CliResult(("x",), 1, "", stderr))
    assert error.code is code
    assert str(error).startswith("act: ")


def test_a_usage_error_is_the_shims_fault_and_says_so() -> None:
    error = cli_error(
        "create VM x",
        CliResult(("create", "--bogus"), 64, "", "Error: Unknown option '--bogus'\nUsage: ..."),
    )
    assert error.code is CODE.INTERNAL
    assert "refused the command line `create --bogus`" in str(error)


def test_a_missing_cli_is_unavailable_and_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ShimError) as failure:
        AppleCli(str(tmp_path / "no-container")).call("list")
    assert failure.value.code is CODE.UNAVAILABLE
    assert "--container-cli" in str(failure.value)


def test_services_not_running(double: CliDouble, backend: AppleBackend) -> None:
    double.settings(running=False)
    ready, why = backend.ready()
    assert not ready
    assert "container system start --enable-kernel-install" in why
    with pytest.raises(ShimError) as failure:
        backend.setup()
    assert failure.value.code is CODE.UNAVAILABLE
    with pytest.raises(ShimError) as failure:
        backend.images.list_images()
    assert failure.value.code is CODE.UNAVAILABLE


def test_the_network_is_ready_on_macos_26_and_on_15_without_network_commands(
    double: CliDouble, backend: AppleBackend
) -> None:
    assert backend.network_status() == (True, "")
    double.settings(macos=15)
    assert backend.network_status() == (True, "")
    assert double.last("network") == ["network", "list", "--format", "json"]


def test_an_unknown_id_is_missing_or_not_found_and_stop_and_remove_are_idempotent(
    backend: AppleBackend,
) -> None:
    assert backend.inspect_vm(MISSING).state is VmState.MISSING
    assert backend.inspect_vm("pod:unknown").state is VmState.MISSING
    backend.stop_vm(MISSING, timeout=3)
    backend.kill_vm(MISSING)
    backend.remove_vm(MISSING)
    for action in (
        lambda: backend.start_vm(MISSING),
        lambda: backend.exec_sync(MISSING, ["true"], 5),
    ):
        with pytest.raises(ShimError) as failure:
            action()
        assert failure.value.code is CODE.NOT_FOUND
    assert backend.stats(MISSING) is None


def test_exec_in_a_stopped_container_is_a_failed_precondition(backend: AppleBackend) -> None:
    pod = run_pod(backend, pod_config(hostname="stopped"))
    vm_id = create(backend, pod, container_config(BUSYBOX))
    with pytest.raises(ShimError) as failure:
        backend.exec_sync(vm_id, ["true"], 5)
    assert failure.value.code is CODE.FAILED_PRECONDITION
    backend.start_vm(vm_id)
    backend.kill_vm(vm_id)
    backend.kill_vm(vm_id)  # kill of a stopped container: already done
    assert backend.inspect_vm(vm_id).exit_code == 137


def test_a_name_taken_is_already_exists(backend: AppleBackend) -> None:
    pod = run_pod(backend, pod_config(hostname="twice"))
    spec = container_spec(backend, pod, container_config(BUSYBOX))
    own_vm = replace(spec, placement=replace(spec.placement, inside="", network="default"))
    backend.create_vm(own_vm)
    with pytest.raises(ShimError) as failure:
        backend.create_vm(own_vm)
    assert failure.value.code is CODE.ALREADY_EXISTS


def test_a_second_live_workload_in_a_pod_is_unimplemented_but_a_restart_is_not(
    backend: AppleBackend,
) -> None:
    pod = run_pod(backend, pod_config(hostname="single"))
    first = create(backend, pod, container_config(BUSYBOX))
    with pytest.raises(ShimError) as failure:
        create(backend, pod, container_config(BUSYBOX, name="sidecar"))
    assert failure.value.code is CODE.UNIMPLEMENTED
    assert "cannot share a pod's network" in str(failure.value)
    backend.start_vm(first)
    backend.kill_vm(first)
    second = create(backend, pod, container_config(BUSYBOX, name="main-attempt-1"))
    assert second.split(".")[0] == "single"


def test_images_missing_locally_or_in_the_registry(backend: AppleBackend) -> None:
    assert backend.images.get("127.0.0.1:5000/cri-conformance/nothing:here") is None
    assert backend.images.get("sha256:" + "e" * 64) is None
    with pytest.raises(ShimError) as failure:
        backend.images.pull("127.0.0.1:5000/cri-conformance/nothing:here", "", "")
    assert failure.value.code is CODE.NOT_FOUND
    assert "404 Not Found" in str(failure.value)
    with pytest.raises(ShimError) as failure:
        backend.images.pull(BUSYBOX, "user", "secret")
    assert failure.value.code is CODE.UNIMPLEMENTED
    assert "registry login" in str(failure.value)


def test_a_start_that_fails_says_why(backend: AppleBackend, double: CliDouble) -> None:
    pod = run_pod(backend, pod_config(hostname="noboot"))
    vm_id = create(backend, pod, container_config(BUSYBOX))
    double.settings(start_error="internalError: failed to bootstrap container: no kernel installed")
    with pytest.raises(ShimError) as failure:
        backend.start_vm(vm_id)
    assert failure.value.code is CODE.INTERNAL
    assert "no kernel installed" in str(failure.value)
