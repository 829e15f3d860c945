"""The CRI layer's small parts: ids, filters, timestamps, validation, specs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Unpack

import pytest
from cri_api.v1 import api_pb2 as cri
from cri_config_fields import ContainerConfigFields
from fake_backend import BUSYBOX, image

from reference_shim.backends.base import SecuritySpec
from reference_shim.cri import filters, validation
from reference_shim.cri.convert import vm_specs
from reference_shim.errors import InvalidArgument, NotFound
from reference_shim.state import ids
from reference_shim.state.records import PodRecord
from reference_shim.timestamps import format_rfc3339_nano, parse_rfc3339_nano


def pod(pod_id: str, labels: dict[str, str], state: int = cri.SANDBOX_READY) -> PodRecord:
    config = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name=pod_id[:4]), labels=labels)
    return PodRecord(id=pod_id, config=config, runtime_handler="", created_at=1, state=state)


def test_new_ids_are_64_lowercase_hex_and_unique() -> None:
    made = {ids.new_id() for _ in range(100)}
    assert len(made) == 100
    assert all(re.fullmatch(r"[0-9a-f]{64}", made_id) for made_id in made)


def test_a_unique_prefix_resolves_and_others_are_refused() -> None:
    known = ["abc1" + "0" * 60, "abd2" + "0" * 60]
    assert ids.resolve("abc", known, "pod") == known[0]
    with pytest.raises(InvalidArgument, match="ambiguous"):
        ids.resolve("ab", known, "pod")
    with pytest.raises(NotFound):
        ids.resolve("ff", known, "pod")


def test_pod_filters_combine_id_prefix_state_and_labels() -> None:
    records = [
        pod("aa" + "0" * 62, {"app": "x", "tier": "a"}),
        pod("ab" + "0" * 62, {"app": "x"}, cri.SANDBOX_NOTREADY),
        pod("bb" + "0" * 62, {"app": "y"}),
    ]
    by_labels = filters.pods(records, cri.PodSandboxFilter(label_selector={"app": "x"}))
    assert [p.id[:2] for p in by_labels] == ["aa", "ab"]
    by_prefix = filters.pods(records, cri.PodSandboxFilter(id="aa"))
    assert [p.id[:2] for p in by_prefix] == ["aa"]
    assert filters.pods(records, cri.PodSandboxFilter(id="a")) == []  # ambiguous matches none
    not_ready = cri.PodSandboxFilter(state=cri.PodSandboxStateValue(state=cri.SANDBOX_NOTREADY))
    assert [p.id[:2] for p in filters.pods(records, not_ready)] == ["ab"]
    both = cri.PodSandboxFilter(label_selector={"app": "x", "tier": "a"})
    assert [p.id[:2] for p in filters.pods(records, both)] == ["aa"]


@pytest.mark.parametrize("ns", [0, 1, 1_700_000_000_123_456_789, 1_700_000_000_100_000_000])
def test_timestamps_round_trip_with_nanoseconds(ns: int) -> None:
    assert parse_rfc3339_nano(format_rfc3339_nano(ns)) == ns


def test_timestamps_are_written_as_go_rfc3339nano() -> None:
    assert format_rfc3339_nano(1_700_000_000_100_000_000) == "2023-11-14T22:13:20.1Z"
    assert format_rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert parse_rfc3339_nano("0001-01-01T00:00:00Z") == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (cri.PodSandboxConfig(), "metadata"),
        (cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(namespace="n", uid="u")), "name"),
    ],
)
def test_pod_configs_without_a_name_are_invalid(config: cri.PodSandboxConfig, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validation.pod_config(config, has_config=True)


def test_bad_hostnames_and_port_mappings_are_invalid() -> None:
    metadata = cri.PodSandboxMetadata(name="p", namespace="n", uid="u")
    with pytest.raises(InvalidArgument, match="hostname"):
        validation.pod_config(cri.PodSandboxConfig(metadata=metadata, hostname="bad_name"), True)
    twice = [cri.PortMapping(container_port=80, host_port=8080)] * 2
    with pytest.raises(InvalidArgument, match="mapped twice"):
        validation.pod_config(cri.PodSandboxConfig(metadata=metadata, port_mappings=twice), True)
    with pytest.raises(InvalidArgument, match="container_port"):
        validation.port_mappings([cri.PortMapping(container_port=0)])


def container_config(**fields: Unpack[ContainerConfigFields]) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"), image=cri.ImageSpec(image=BUSYBOX), **fields
    )


def test_command_replaces_entrypoint_and_drops_the_image_cmd() -> None:
    info = image(BUSYBOX, 1)
    assert vm_specs.argv(container_config(command=["ls"]), info) == ("ls",)
    assert vm_specs.argv(container_config(command=["ls"], args=["-l"]), info) == ("ls", "-l")
    assert vm_specs.argv(container_config(args=["-c", "x"]), info) == ("-c", "x")
    assert vm_specs.argv(container_config(), info) == ("sh",)


def test_user_and_group_become_one_user_string() -> None:
    context = cri.LinuxContainerSecurityContext(
        run_as_user=cri.Int64Value(value=1000), run_as_group=cri.Int64Value(value=2000)
    )
    assert vm_specs._user(context) == "1000:2000"
    assert vm_specs._user(cri.LinuxContainerSecurityContext(run_as_username="nobody")) == "nobody"
    with pytest.raises(InvalidArgument, match="run_as_group"):
        vm_specs._user(cri.LinuxContainerSecurityContext(run_as_group=cri.Int64Value(value=1)))


def test_seccomp_defaults_to_unconfined_as_cri_says() -> None:
    assert vm_specs._seccomp(cri.LinuxContainerSecurityContext()) == "unconfined"
    runtime_default = cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault)
    assert vm_specs._seccomp(cri.LinuxContainerSecurityContext(seccomp=runtime_default)) == ""


def test_resolv_conf_is_laid_out_like_containerd() -> None:
    dns = cri.DNSConfig(servers=["1.1.1.1", "8.8.8.8"], searches=["a", "b"], options=["ndots:2"])
    assert vm_specs.resolv_conf(dns) == (
        "search a b\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2\n"
    )


def test_the_sandbox_security_context_is_the_pod_vms() -> None:
    runtime_default = cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault)
    context = cri.LinuxSandboxSecurityContext(
        run_as_user=cri.Int64Value(value=1000),
        run_as_group=cri.Int64Value(value=2000),
        supplemental_groups=[3000],
        readonly_rootfs=True,
        seccomp=runtime_default,
    )
    assert vm_specs.pod_security(context) == SecuritySpec(
        user="1000:2000", group_add=("3000",), readonly_rootfs=True, seccomp=""
    )
    assert vm_specs.pod_security(cri.LinuxSandboxSecurityContext()).seccomp == "unconfined"
    with pytest.raises(InvalidArgument, match="run_as_group"):
        vm_specs.pod_security(cri.LinuxSandboxSecurityContext(run_as_group=cri.Int64Value(value=1)))


def test_a_pods_resources_carry_its_overhead_on_top_of_what_has_a_limit() -> None:
    gib = 1 << 30
    linux = cri.LinuxPodSandboxConfig(
        resources=cri.LinuxContainerResources(
            memory_limit_in_bytes=gib, cpu_quota=150_000, cpu_period=100_000, cpu_shares=512
        ),
        overhead=cri.LinuxContainerResources(memory_limit_in_bytes=gib // 4, cpu_quota=50_000),
    )
    sized = vm_specs.pod_resources(linux)
    assert (sized.memory_limit, sized.cpu_quota, sized.cpu_period) == (
        gib + gib // 4,
        200_000,
        100_000,
    )
    assert sized.cpu_shares == 512
    only_overhead = cri.LinuxPodSandboxConfig(overhead=linux.overhead)
    assert vm_specs.pod_resources(only_overhead).memory_limit == 0  # no limit: none added


@pytest.mark.parametrize(
    ("linux", "message"),
    [
        (
            cri.LinuxContainerConfig(resources=cri.LinuxContainerResources(cpu_shares=-2)),
            "cpu_shares must not be negative",
        ),
        (
            cri.LinuxContainerConfig(
                resources=cri.LinuxContainerResources(memory_limit_in_bytes=-1)
            ),
            "memory_limit_in_bytes must not be negative",
        ),
        (
            cri.LinuxContainerConfig(
                security_context=cri.LinuxContainerSecurityContext(
                    run_as_user=cri.Int64Value(value=1), run_as_username="someone"
                )
            ),
            "exclusive",
        ),
        (
            cri.LinuxContainerConfig(
                security_context=cri.LinuxContainerSecurityContext(
                    namespace_options=cri.NamespaceOption(pid=cri.TARGET)
                )
            ),
            "target_id",
        ),
    ],
)
def test_negative_limits_and_conflicting_options_are_invalid(
    linux: cri.LinuxContainerConfig, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validation.container_config(container_config(linux=linux), has_config=True)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("runtime/default", True),
        ("docker/default", True),
        ("unconfined", True),
        ("localhost//var/lib/kubelet/seccomp/audit.json", True),
        ("/tmp/x/profile.json", False),
        ("localhost/", False),
        ("Unconfined", False),
    ],
)
def test_seccomp_profile_path_takes_only_the_values_api_proto_lists(
    value: str, valid: bool
) -> None:
    context = cri.LinuxContainerSecurityContext(seccomp_profile_path=value)
    pod = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p"),
        linux=cri.LinuxPodSandboxConfig(
            security_context=cri.LinuxSandboxSecurityContext(seccomp_profile_path=value)
        ),
    )
    checks: list[Callable[[], object]] = [
        lambda: validation.container_config(
            container_config(linux=cri.LinuxContainerConfig(security_context=context)), True
        ),
        lambda: validation.pod_config(pod, True),
    ]
    for check in checks:
        if valid:
            check()
        else:
            with pytest.raises(InvalidArgument, match="seccomp_profile_path"):
                check()


def test_an_image_runtime_handler_other_than_the_default_is_invalid() -> None:
    config = container_config()
    config.image.runtime_handler = "kata"
    with pytest.raises(InvalidArgument, match="runtime_handler 'kata'"):
        validation.container_config(config, has_config=True)
