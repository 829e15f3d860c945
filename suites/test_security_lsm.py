"""Linux security modules: AppArmor and SELinux profiles and labels, where the host has them.

Each test is skipped, naming what is missing, on a host without the module enabled.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from cri_api.v1 import api_pb2 as api

from harness import host
from harness.client import CriClient
from harness.cri_logs import output_lines
from harness.expect import refused
from harness.factories import Container, ContainerFactory, PodFactory
from harness.probes import exec_ok, wait_for_file_in
from harness.security import secured, security_profile
from harness.waiting import wait_for_exit

WRITE_THEN_SLEEP = ["sh", "-c", "touch /tmp/probe && echo wrote; exec sleep 3600"]


class AppArmorProfiles:
    """Two test profiles with names unique to this worker: one denies writes, one audits them."""

    def __init__(self) -> None:
        token = secrets.token_hex(4)
        self.deny_write = f"cri-conformance-deny-write-{token}"
        self.audit_write = f"cri-conformance-audit-write-{token}"

    def policy(self) -> str:
        def profile(name: str, rule: str) -> str:
            return (
                f"profile {name} flags=(attach_disconnected) {{\n"
                "  #include <abstractions/base>\n  file,\n"
                f"  {rule} /** w,\n}}\n"
            )

        return (
            "#include <tunables/global>\n"
            + profile(self.deny_write, "deny")
            + profile(self.audit_write, "audit")
        )


@pytest.fixture(scope="module")
def apparmor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppArmorProfiles]:
    reason = host.apparmor_missing()
    if reason:
        pytest.skip(reason)
    profiles = AppArmorProfiles()
    with host.apparmor_profiles(profiles.policy(), tmp_path_factory.mktemp("apparmor")):
        yield profiles


@pytest.fixture
def selinux() -> None:
    reason = host.selinux_missing()
    if reason:
        pytest.skip(reason)


def apparmor_container(
    make_pod: PodFactory, make_container: ContainerFactory, profile: api.SecurityProfile
) -> Container:
    return make_container(make_pod(), command=WRITE_THEN_SLEEP, linux=secured(apparmor=profile))


def localhost(name: str) -> api.SecurityProfile:
    return security_profile(api.SecurityProfile.Localhost, name)


@pytest.mark.feature("security.apparmor.enforced")
def test_a_localhost_apparmor_profile_confines_and_denies_what_it_denies(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    apparmor: AppArmorProfiles,
) -> None:
    container = apparmor_container(make_pod, make_container, localhost(apparmor.deny_write))
    status = wait_for_exit(cri, container.id)
    assert status.exit_code != 0, "a write went through a profile that denies all writes"
    assert output_lines(cri, container) == []


@pytest.mark.feature("security.apparmor.permissive")
def test_a_localhost_apparmor_profile_that_allows_writes_lets_them_through(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    apparmor: AppArmorProfiles,
) -> None:
    container = apparmor_container(make_pod, make_container, localhost(apparmor.audit_write))
    label = exec_ok(cri, container, "cat", "/proc/self/attr/current").strip("\x00\n")
    assert label == f"{apparmor.audit_write} (enforce)"
    assert wait_for_file_in(cri, container, "/tmp/probe") == ""  # written once the shell ran


@pytest.mark.feature("security.apparmor.unloaded")
def test_an_apparmor_profile_that_is_not_loaded_is_refused(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    apparmor: AppArmorProfiles,
) -> None:
    pod = make_pod()
    with refused():
        container = make_container(
            pod, start=False, linux=secured(apparmor=localhost("cri-conformance-not-loaded"))
        )
        cri.start_container(container.id)


@pytest.mark.feature("security.apparmor.unconfined")
def test_an_unconfined_apparmor_profile_leaves_the_process_unconfined(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    apparmor: AppArmorProfiles,
) -> None:
    profile = security_profile(api.SecurityProfile.Unconfined)
    container = apparmor_container(make_pod, make_container, profile)
    label = exec_ok(cri, container, "cat", "/proc/self/attr/current").strip("\x00\n")
    assert label == "unconfined"


@pytest.mark.feature("security.selinux.level")
def test_an_selinux_level_is_the_level_of_the_process_label(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, selinux: None
) -> None:
    options = api.SELinuxOption(level="s0:c4,c5")
    container = make_container(make_pod(), linux=secured(selinux_options=options))
    label = exec_ok(cri, container, "cat", "/proc/self/attr/current").strip("\x00\n")
    assert label.endswith(":s0:c4,c5"), f"the process label is {label!r}"


@pytest.mark.feature("security.selinux.invalid-level")
def test_an_invalid_selinux_level_is_refused(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, selinux: None
) -> None:
    options = api.SELinuxOption(
        user="system_u", role="system_r", type="container_t", level="s0,c4,c5"
    )
    pod = make_pod()
    with refused():
        container = make_container(pod, start=False, linux=secured(selinux_options=options))
        cri.start_container(container.id)


@pytest.mark.feature("security.selinux.process-type")
def test_a_default_container_runs_with_a_container_process_type(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, selinux: None
) -> None:
    container = make_container(make_pod())
    label = exec_ok(cri, container, "cat", "/proc/self/attr/current").strip("\x00\n")
    assert ":system_r:container_t:" in label, f"the process label is {label!r}"
