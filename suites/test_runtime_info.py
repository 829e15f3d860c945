"""Runtime information: Version and Status."""

from __future__ import annotations

import re

import pytest
from cri_api.v1 import api_pb2 as api

from harness.cgroups import assert_under_cgroup_parent, process_cgroups
from harness.client import CriClient
from harness.factories import ContainerFactory
from harness.pytest_plugin.container_fixtures import CgroupPodFactory
from harness.verbose_info import assert_json_values


def condition(status: api.RuntimeStatus, kind: str) -> api.RuntimeCondition:
    matches = [item for item in status.conditions if item.type == kind]
    assert matches, f"Status has no {kind} condition; conditions: {list(status.conditions)}"
    return matches[0]


@pytest.mark.feature("runtime.version")
def test_version_names_the_runtime_and_the_v1_api(cri: CriClient) -> None:
    version = cri.version()
    assert version.version, "Version.version (the kubelet API version) is empty"
    assert version.runtime_name, "Version.runtime_name is empty"
    assert version.runtime_version, "Version.runtime_version is empty"
    assert version.runtime_api_version == "v1"


@pytest.mark.feature("runtime.status.ready")
def test_status_reports_runtime_ready(cri: CriClient) -> None:
    ready = condition(cri.status().status, "RuntimeReady")
    assert ready.status is True, f"RuntimeReady is false: {ready.reason} {ready.message}"


@pytest.mark.feature("runtime.status.network-ready")
def test_status_reports_network_ready(cri: CriClient) -> None:
    ready = condition(cri.status().status, "NetworkReady")
    assert ready.status is True, f"NetworkReady is false: {ready.reason} {ready.message}"


@pytest.mark.feature("runtime.status.verbose")
def test_verbose_status_carries_info_and_plain_status_does_not(cri: CriClient) -> None:
    assert cri.status(verbose=True).info, "Status(verbose=true) returned no info"
    assert not cri.status(verbose=False).info, "Status(verbose=false) must not return info"


@pytest.mark.feature("runtime.status.runtime-handlers")
def test_status_lists_the_default_and_the_runs_handler_once_each(
    cri: CriClient, runtime_handler: str
) -> None:
    # api.proto RuntimeHandler.name: "Name must be unique in StatusResponse. An empty string
    # denotes the default handler." The kubelet reads each handler's features from here.
    names = [handler.name for handler in cri.status().runtime_handlers]
    assert names, "Status lists no runtime_handlers, so it advertises no handler features"
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"Status lists runtime handler(s) {repeated} more than once: {names}"
    for wanted in dict.fromkeys(["", runtime_handler]):
        assert wanted in names, f"Status lists no runtime handler {wanted!r}: {names}"


@pytest.mark.feature("runtime.config.cgroup-driver")
def test_runtime_config_reports_the_cgroup_driver_in_use(
    cri: CriClient, make_cgroup_pod: CgroupPodFactory, make_container: ContainerFactory
) -> None:
    # api.proto LinuxRuntimeConfiguration.cgroup_driver: "Cgroup driver to use" by the kubelet,
    # which names pod cgroup parents in its syntax. The driver advertised must be the one the
    # runtime uses: a parent in that syntax is honoured, and a systemd runtime puts each
    # container in a scope of its own (a cgroupfs one in a plain directory).
    answer = cri.runtime_config()
    assert answer.HasField("linux"), "RuntimeConfig returned no linux config"
    drivers = {api.CgroupDriver.SYSTEMD: "systemd", api.CgroupDriver.CGROUPFS: "cgroupfs"}
    driver = answer.linux.cgroup_driver
    assert driver in drivers, (
        f"RuntimeConfig names cgroup driver {driver}, neither systemd (0) nor cgroupfs (1)"
    )
    pod = make_cgroup_pod("driver")
    container = make_container(pod)
    assert_under_cgroup_parent(cri, container, make_cgroup_pod.parent_of(pod), driver)
    scopes = {path.endswith(".scope") for path in process_cgroups(cri, container).values()}
    assert scopes == {driver == api.CgroupDriver.SYSTEMD}, (
        f"RuntimeConfig advertises {drivers[driver]}, but the container's cgroups are "
        f"{process_cgroups(cri, container)}"
    )


# semver 2.0.0 (semver.org), with the optional "v" prefix Go tooling uses.
SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)


@pytest.mark.feature("runtime.version.semver")
def test_version_reports_a_semver_runtime_version(cri: CriClient) -> None:
    runtime_version = cri.version().runtime_version
    assert SEMVER.fullmatch(runtime_version), (
        f"Version.runtime_version {runtime_version!r} is not semver-compatible, "
        "as the CRI API requires"
    )


@pytest.mark.feature("runtime.status.verbose-json")
def test_verbose_status_info_values_are_json(cri: CriClient) -> None:
    assert_json_values("Status", cri.status(verbose=True).info)
