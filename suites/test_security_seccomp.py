"""Seccomp: the runtime default profile, unconfined, an unset profile, and a localhost
profile that the runtime loads from a file on the node."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import ContainerFactory, Pod, PodFactory
from harness.probes import exec_fails, read_proc_status, shell_in
from harness.security import capabilities, pod_security, secured, security_profile

FILTERED = "2"  # /proc/<pid>/status Seccomp: 0 disabled, 2 filter
DISABLED = "0"


def profile_denying(tmp_path: Path, *syscalls: str) -> Path:
    """A seccomp profile that allows everything except ``syscalls`` (they fail with EPERM)."""
    path = tmp_path / "deny.json"
    rules = [{"names": list(syscalls), "action": "SCMP_ACT_ERRNO"}]
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}))
    return path


@pytest.mark.parametrize(
    ("profile", "mode"),
    [
        pytest.param(
            security_profile(api.SecurityProfile.RuntimeDefault), FILTERED,
            marks=pytest.mark.feature("security.seccomp.runtime-default"), id="runtime-default",
        ),
        pytest.param(
            security_profile(api.SecurityProfile.Unconfined), DISABLED,
            marks=pytest.mark.feature("security.seccomp.unconfined"), id="unconfined",
        ),
        pytest.param(
            None, DISABLED,
            marks=pytest.mark.feature("security.seccomp.unset"), id="unset",
        ),
    ],
)  # fmt: skip
def test_the_seccomp_profile_type_decides_whether_syscalls_are_filtered(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    profile: api.SecurityProfile | None,
    mode: str,
) -> None:
    container = make_container(shared_pod, linux=secured(seccomp=profile))
    assert read_proc_status(cri, container)["Seccomp"] == mode


@pytest.mark.feature("security.seccomp.localhost")
def test_a_localhost_profile_blocks_exactly_the_syscalls_it_denies(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    profile = profile_denying(tmp_path, "chmod", "fchmod", "fchmodat")
    linux = secured(seccomp=security_profile(api.SecurityProfile.Localhost, str(profile)))
    container = make_container(shared_pod, linux=linux)
    assert read_proc_status(cri, container)["Seccomp"] == FILTERED
    refusal = exec_fails(cri, container, "sh", "-c", "touch /tmp/f && chmod 600 /tmp/f")
    assert b"Operation not permitted" in refusal.stderr
    shell_in(cri, container, "touch /tmp/other && chown 1:1 /tmp/other")


@pytest.mark.feature("security.seccomp.localhost-over-capability")
def test_a_localhost_profile_blocks_a_syscall_even_with_its_capability(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    tmp_path: Path,
) -> None:
    profile = profile_denying(tmp_path, "sethostname")
    allowed = make_container(  # in a pod of its own: the hostname it sets is its pod's
        make_pod(),
        linux=secured(
            capabilities=capabilities(add=("SYS_ADMIN",)),
            seccomp=security_profile(api.SecurityProfile.Unconfined),
        ),
    )
    shell_in(cri, allowed, "hostname allowed-by-capability")
    blocked = make_container(
        shared_pod,
        linux=secured(
            capabilities=capabilities(add=("SYS_ADMIN",)),
            seccomp=security_profile(api.SecurityProfile.Localhost, str(profile)),
        ),
    )
    exec_fails(cri, blocked, "hostname", "blocked-by-seccomp")


@pytest.mark.feature("security.seccomp.localhost-missing")
def test_a_localhost_profile_that_does_not_exist_is_refused(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    missing = security_profile(
        api.SecurityProfile.Localhost, str(tmp_path / "no-such-profile.json")
    )
    with refused():
        container = make_container(shared_pod, start=False, linux=secured(seccomp=missing))
        cri.start_container(container.id)


@pytest.mark.parametrize("level", ["container", "pod"])
@pytest.mark.feature("security.seccomp.profile-path-invalid")
def test_a_seccomp_profile_path_that_is_no_known_value_is_refused(
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    tmp_path: Path,
    level: str,
) -> None:
    # api.proto seccomp_profile_path (deprecated, of LinuxContainerSecurityContext and of
    # LinuxSandboxSecurityContext): the "candidate values are" runtime/default, unconfined and
    # localhost/<full-path-to-profile> (docker/default is the kubelet's older name for the
    # first). A bare path is none of them; the profile exists, so only the syntax is wrong.
    path = str(profile_denying(tmp_path, "chmod"))
    with refused(grpc.StatusCode.INVALID_ARGUMENT):
        if level == "pod":
            make_pod(linux=pod_security(seccomp_profile_path=path))
        else:
            make_container(shared_pod, start=False, linux=secured(seccomp_profile_path=path))
