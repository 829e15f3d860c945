"""Container resources: set at create and by UpdateContainerResources, read back through
ContainerStatus.resources and from the container's own cgroup."""

from __future__ import annotations

import grpc
import pytest
from cri_api.v1 import api_pb2 as api

from harness.cgroups import CGROUP_ROOT, read_limits, sees_unified_hierarchy, swap_beyond_memory
from harness.client import CallFailed, CriClient
from harness.expect import refused
from harness.factories import Container, ContainerFactory, Pod
from harness.lookup import unknown_id
from harness.probes import shell_in

MIB = 1024 * 1024


def assert_reported(
    cri: CriClient, container: Container, wanted: api.LinuxContainerResources
) -> None:
    """ContainerStatus.resources.linux carries every value that was set."""
    reported = cri.container_status(container.id).status.resources.linux
    for field, value in wanted.ListFields():
        assert getattr(reported, field.name) == value, (
            f"ContainerStatus.resources.linux.{field.name} is {getattr(reported, field.name)!r}, "
            f"expected {value!r}"
        )


def assert_applied(
    cri: CriClient, container: Container, wanted: api.LinuxContainerResources
) -> None:
    """The container's cgroup holds the CPU and memory values that were set."""
    limits = read_limits(cri, container)
    seen = {
        "cpu weight": limits.cpu_weight,
        "cpu quota": limits.cpu_quota,
        "cpu period": limits.cpu_period,
        "memory limit": limits.memory_limit,
    }
    expected = {
        "cpu weight": limits.weight_for_shares(wanted.cpu_shares),
        "cpu quota": wanted.cpu_quota,
        "cpu period": wanted.cpu_period,
        "memory limit": wanted.memory_limit_in_bytes,
    }
    assert seen == expected, f"the container's cgroup (v{limits.version}) disagrees"


@pytest.mark.feature("container.resources.create")
def test_resources_given_at_create_are_reported_and_applied(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    wanted = api.LinuxContainerResources(
        cpu_shares=512, cpu_period=100000, cpu_quota=50000, memory_limit_in_bytes=128 * MIB
    )
    container = make_container(shared_pod, linux=api.LinuxContainerConfig(resources=wanted))
    assert_reported(cri, container, wanted)
    assert_applied(cri, container, wanted)


INITIAL = api.LinuxContainerResources(
    cpu_shares=1024, cpu_period=100000, cpu_quota=100000, memory_limit_in_bytes=256 * MIB
)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {"cpu_shares": 256, "cpu_period": 50000, "cpu_quota": 20000},
            marks=pytest.mark.feature("container.resources.update-cpu"),
            id="cpu",
        ),
        pytest.param(
            {"memory_limit_in_bytes": 96 * MIB},
            marks=pytest.mark.feature("container.resources.update-memory"),
            id="memory",
        ),
    ],
)
def test_updated_limits_are_reported_and_applied(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, changes: dict[str, int]
) -> None:
    container = make_container(shared_pod, linux=api.LinuxContainerConfig(resources=INITIAL))
    updated = api.LinuxContainerResources()
    updated.CopyFrom(INITIAL)
    for field, value in changes.items():
        setattr(updated, field, value)
    cri.update_container_resources(container.id, updated)
    assert_reported(cri, container, updated)
    assert_applied(cri, container, updated)


@pytest.mark.feature("container.resources.memory-without-swap")
def test_a_memory_limit_without_a_swap_limit_allows_no_swap(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    wanted = api.LinuxContainerResources(memory_limit_in_bytes=64 * MIB)
    container = make_container(shared_pod, linux=api.LinuxContainerConfig(resources=wanted))
    swap = swap_beyond_memory(cri, container)
    if swap is None:
        pytest.skip("the kernel does not account swap (cgroup v1 without swapaccount)")
    assert swap == 0, f"the container may swap {swap} bytes (-1: unlimited) on top of its memory"


@pytest.mark.feature("container.resources.cpuset")
def test_a_cpuset_is_reported_and_applied(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    wanted = api.LinuxContainerResources(cpuset_cpus="0")
    container = make_container(shared_pod, linux=api.LinuxContainerConfig(resources=wanted))
    assert_reported(cri, container, wanted)
    assert read_limits(cri, container).cpuset_cpus == "0"


@pytest.mark.feature("container.resources.update-not-found")
def test_updating_an_unknown_container_is_not_found(cri: CriClient) -> None:
    with refused(grpc.StatusCode.NOT_FOUND):
        cri.update_container_resources(unknown_id(), api.LinuxContainerResources(cpu_shares=512))


@pytest.mark.feature("container.resources.hugepage-limits")
def test_a_hugepage_limit_is_applied_to_the_cgroup(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    # api.proto HugepageLimit: PageSize=1GB, Limit=1073741824 "means setting 1073741824 bytes to
    # hugetlb.1GB.limit_in_bytes" (cgroup v1); on v2 the file is hugetlb.<size>.max. A whole
    # number of 2 MiB pages, so that no kernel rounds it. A runtime that takes the limit must
    # apply it: a missing file is a failure, not a missing prerequisite.
    limit = 8 * MIB
    wanted = api.LinuxContainerResources(
        hugepage_limits=[api.HugepageLimit(page_size="2MB", limit=limit)]
    )
    container = make_container(shared_pod, linux=api.LinuxContainerConfig(resources=wanted))
    v2, v1 = CGROUP_ROOT / "hugetlb.2MB.max", CGROUP_ROOT / "hugetlb/hugetlb.2MB.limit_in_bytes"
    found = shell_in(cri, container, f"if test -e {v2}; then cat {v2}; else cat {v1}; fi")
    assert found.strip() == str(limit), f"the container's 2MB hugetlb limit is {found.strip()}"


UNIFIED = {"memory.high": str(48 * MIB), "pids.max": "77"}


@pytest.mark.feature("container.resources.unified")
def test_unified_resources_are_written_to_the_cgroup(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    # api.proto LinuxContainerResources.unified: "Unified resources for cgroup v2. [...] Each
    # key/value in the map refers to the cgroup v2." A node on cgroup v1 has no such files:
    # a runtime there may refuse them (runc does), which only a v1 container excuses.
    wanted = api.LinuxContainerResources(unified=UNIFIED)
    try:
        container = make_container(shared_pod, linux=api.LinuxContainerConfig(resources=wanted))
    except CallFailed as error:
        v1 = error.code is not grpc.StatusCode.UNIMPLEMENTED and not sees_unified_hierarchy(
            cri, make_container(shared_pod, name="plain")
        )
        if v1:
            pytest.skip(f"the containers see cgroup v1, where {error.rpc} refused: {error}")
        raise
    files = " ".join(str(CGROUP_ROOT / name) for name in UNIFIED)
    found = shell_in(cri, container, f"cat {files}").split()
    assert dict(zip(UNIFIED, found, strict=True)) == UNIFIED, "the container's cgroup disagrees"
