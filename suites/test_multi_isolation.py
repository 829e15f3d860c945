"""Multi-container pods: what belongs to each container stays its own.

Environment, user, resource limits, image, exec target, log file and stats are per container;
a runtime that applied one container's settings to the pod, or mixed them up, fails here.
What each test checks is its own containers', so they run in the run's shared pod, the only
containers in it while the test runs (suites/README.md).
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness import cri_logs, probes
from harness.builders import pid_namespace
from harness.cgroups import read_limits
from harness.client import CriClient
from harness.factories import ContainerFactory, Pod
from harness.images.catalog import ImageCatalog
from harness.waiting import wait_until

MIB = 1024 * 1024
BUSY_LOOP = ["sh", "-c", "while :; do :; done"]


def linux(
    user: int | None = None,
    group: int | None = None,
    memory: int = 0,
) -> api.LinuxContainerConfig:
    context = api.LinuxContainerSecurityContext(
        run_as_user=api.Int64Value(value=user) if user is not None else None,
        run_as_group=api.Int64Value(value=group) if group is not None else None,
    )
    resources = api.LinuxContainerResources(memory_limit_in_bytes=memory)
    return api.LinuxContainerConfig(security_context=context, resources=resources)


@pytest.mark.feature("multi.isolation.env", shape="multi")
def test_each_container_sees_only_its_own_environment(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    own_pids = pid_namespace(api.CONTAINER)
    first = make_container(pod, "first", env={"ROLE": "first", "ONLY_FIRST": "yes"}, linux=own_pids)
    second = make_container(pod, "second", env={"ROLE": "second"}, linux=own_pids)
    first_env = probes.init_environment_in(cri, first.id)
    second_env = probes.init_environment_in(cri, second.id)
    assert (first_env["ROLE"], first_env["ONLY_FIRST"]) == ("first", "yes")
    assert second_env["ROLE"] == "second"
    assert "ONLY_FIRST" not in second_env


@pytest.mark.feature("multi.isolation.user", shape="multi")
def test_each_container_runs_as_its_own_user(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    first = make_container(pod, "first", linux=linux(user=1000, group=1001))
    second = make_container(pod, "second", linux=linux(user=2000, group=2002))
    root = make_container(pod, "root")
    assert probes.shell_in(cri, first.id, "id -u; id -g").split() == ["1000", "1001"]
    assert probes.shell_in(cri, second.id, "id -u; id -g").split() == ["2000", "2002"]
    assert probes.shell_in(cri, root.id, "id -u").strip() == "0"


@pytest.mark.feature("multi.isolation.resources", shape="multi")
def test_each_container_has_its_own_memory_limit(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    small = make_container(pod, "small", linux=linux(memory=64 * MIB))
    large = make_container(pod, "large", linux=linux(memory=128 * MIB))
    assert read_limits(cri, small).memory_limit == 64 * MIB
    assert read_limits(cri, large).memory_limit == 128 * MIB


@pytest.mark.feature("multi.isolation.update-resources", shape="multi")
def test_updating_one_containers_resources_leaves_the_others_alone(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    updated = make_container(pod, "updated", linux=linux(memory=64 * MIB))
    other = make_container(pod, "other", linux=linux(memory=128 * MIB))
    cri.update_container_resources(
        updated.id, api.LinuxContainerResources(memory_limit_in_bytes=96 * MIB)
    )
    assert read_limits(cri, updated).memory_limit == 96 * MIB
    assert read_limits(cri, other).memory_limit == 128 * MIB


# Files only one of the test images has (fixtures/images/*.toml); busybox has neither.
IMAGE_MARKS = {"nonroot": "/home/conformance/.keep", "webserver": "/www/index.html"}


@pytest.mark.feature("multi.isolation.images", shape="multi")
def test_containers_of_one_pod_run_different_images(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    # api.proto ContainerConfig.image: "Image to use", per container; ContainerStatus.image_ref
    # is the "Digested reference to the image in use". Each container's root filesystem is its
    # own image's: it holds that image's own file and none of the others'.
    pod = shared_pod
    containers = {
        "busybox": make_container(pod, "busybox"),
        "nonroot": make_container(pod, "nonroot", image=images["nonroot"].ref),
        "webserver": make_container(pod, "web", image=images["webserver"].ref, command=[]),
    }
    for image, container in containers.items():
        status = cri.container_status(container.id).status
        digests = (images[image].manifest_digest, images[image].config_digest)
        assert any(digest in status.image_ref for digest in digests), (
            f"container {container.name} reports image_ref {status.image_ref!r}, "
            f"not the {image} image {digests}"
        )
        present = {
            owner
            for owner, path in IMAGE_MARKS.items()
            if probes.exit_code_in(cri, container.id, f"test -e {path}") == 0
        }
        expected = {image} & set(IMAGE_MARKS)
        assert present == expected, (
            f"container {container.name} (image {image}) has the files of {sorted(present)}, "
            f"expected those of {sorted(expected)}"
        )


@pytest.mark.feature("multi.isolation.exec", shape="multi")
def test_exec_runs_in_the_container_it_names(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    containers = {
        name: make_container(
            pod, name, command=["sh", "-c", f"echo {name} > /identity; exec sleep 3600"]
        )
        for name in ("one", "two", "three")
    }
    for name, container in containers.items():
        assert probes.wait_for_file_in(cri, container.id, "/identity") == f"{name}\n"


@pytest.mark.feature("multi.isolation.logs", shape="multi")
def test_each_container_writes_its_own_log_file(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    pod = shared_pod
    speakers = {
        name: make_container(
            pod, name, command=["sh", "-c", f"echo out-{name}; echo err-{name} >&2; sleep 3600"]
        )
        for name in ("first", "second")
    }
    for name, container in speakers.items():
        cri_logs.wait_for_line(container, f"err-{name}", "stderr")
        cri_logs.wait_for_line(container, f"out-{name}")
        records = cri_logs.read_records(cri_logs.log_file(container))
        assert {(record.stream, record.text) for record in records} == {
            ("stdout", f"out-{name}"),
            ("stderr", f"err-{name}"),
        }
    paths = {cri_logs.log_file(container) for container in speakers.values()}
    assert len(paths) == 2


@pytest.mark.feature("multi.isolation.stats", shape="multi")
def test_each_container_has_its_own_stats(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    """While the busy container burns 0.3 s of CPU, the idle one's CPU time barely moves.

    Measured over that window, not from the start: what starting ``sleep`` cost is the idle
    container's own (under a VM's emulated CPU, a loaded host makes it hundreds of ms), but a
    runtime that reports the pod's total, or the busy container's, moves with the busy one; and
    its total stays below the busy one's, which a runtime copying the busy one's figures fails."""
    pod = shared_pod
    busy = make_container(pod, "busy", command=BUSY_LOOP)
    idle = make_container(pod, "idle")
    idle_before = cri.container_stats(idle.id).cpu.usage_core_nano_seconds.value
    busy_before = cri.container_stats(busy.id).cpu.usage_core_nano_seconds.value
    busy_stats = wait_until(
        lambda: cri.container_stats(busy.id),
        lambda stats: stats.cpu.usage_core_nano_seconds.value > busy_before + 300_000_000,
        what="the busy container to use 0.3 s more of CPU",
    )
    idle_stats = cri.container_stats(idle.id)
    assert (busy_stats.attributes.id, busy_stats.attributes.metadata.name) == (busy.id, "busy")
    assert (idle_stats.attributes.id, idle_stats.attributes.metadata.name) == (idle.id, "idle")
    idle_cpu = idle_stats.cpu.usage_core_nano_seconds.value
    assert idle_cpu - idle_before < 100_000_000, (
        "the idle container's CPU time moved with the busy one's"
    )
    assert idle_cpu < busy_stats.cpu.usage_core_nano_seconds.value, (
        "the idle container reports at least the busy one's CPU time"
    )
    cri.stop_container(busy.id, timeout=0)
