"""Fields only some backends honour: the CRI layer passes them on in the ``VmSpec``, and each
backend honours or refuses them with its own reason (``reference_shim.backends.refusals``).

A CRI config with one of them goes through the CRI layer's own checks and conversion as the shim
makes them; the spec it gives is then offered to each backend's entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri

from linux_capabilities import CAPABILITIES
from reference_shim.backends import refusals
from reference_shim.backends.apple import translate as apple
from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.base import Capability, ImageInfo, Placement, ResourceSpec, VmSpec
from reference_shim.backends.docker import translate as docker
from reference_shim.backends.docker.backend import DockerBackend
from reference_shim.backends.microvm import limits, privileges, shares
from reference_shim.backends.microvm import translate as microvm
from reference_shim.backends.microvm.backend import MicrovmBackend
from reference_shim.backends.refusals import Asked
from reference_shim.cri import unhonoured
from reference_shim.cri.convert import vm_specs
from reference_shim.errors import InvalidArgument, Unimplemented
from reference_shim.state.records import ContainerRecord, PodRecord

Change = Callable[[cri.ContainerConfig], object]  # what it returns is not used


def _mount(**fields: bool) -> Change:
    return lambda config: config.mounts.add(container_path="/m", host_path="/tmp", **fields)


ASKING: dict[Asked, Change] = {
    Asked.HUGEPAGE_LIMITS: lambda config: config.linux.resources.hugepage_limits.add(
        page_size="2MB", limit=4 << 20
    ),
    Asked.UNIFIED: lambda config: config.linux.resources.unified.update({"memory.high": "1"}),
    Asked.AMBIENT_CAPABILITIES: lambda config: (
        config.linux.security_context.capabilities.add_ambient_capabilities.append("CAP_KILL")
    ),
    Asked.RECURSIVE_READ_ONLY: _mount(readonly=True, recursive_read_only=True),
    Asked.SELINUX_RELABEL: _mount(selinux_relabel=True),
}
HONOURED_BY_MICROVM = {
    Asked.HUGEPAGE_LIMITS, Asked.UNIFIED, Asked.AMBIENT_CAPABILITIES, Asked.RECURSIVE_READ_ONLY,
}  # fmt: skip


def spec_of(change: Change) -> VmSpec:
    """The spec the CRI layer makes of a container config with ``change``, which it lets pass."""
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"), image=cri.ImageSpec(image="busybox")
    )
    change(config)
    unhonoured.container_config(config)  # no CRI-layer refusal: the backend decides
    pod = PodRecord(id="p" * 64, config=cri.PodSandboxConfig(), runtime_handler="", created_at=1)
    record = ContainerRecord(
        id="c" * 64, pod_id=pod.id, config=config, created_at=1, image_ref="", image_id="i",
        log_path="",
    )  # fmt: skip
    image = ImageInfo("i", (), (), 0, "", (), ("sh",))
    return vm_specs.container_spec(record, pod, image, Placement.own_vm("n"), vm_specs.PodFiles())


@pytest.fixture(autouse=True)
def selinux_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host with SELinux, where a relabel asks for something."""
    monkeypatch.setattr(refusals, "selinux_enabled", lambda: True)


def docker_create(spec: VmSpec) -> None:
    # Made without its Engine client: the refusal comes before any Engine call.
    DockerBackend.__new__(DockerBackend).create_vm(spec)


def apple_create(spec: VmSpec) -> None:
    apple.create_args(spec, "vm", "image", apple.Identity("h"), {})


@pytest.mark.parametrize("field", Asked)
def test_the_spec_carries_each_field_and_asks_for_it(field: Asked) -> None:
    assert refusals.asked(spec_of(ASKING[field])) == {field}


@pytest.mark.parametrize("field", Asked)
@pytest.mark.parametrize(
    ("backend", "create"), [("docker", docker_create), ("apple", apple_create)]
)
def test_docker_and_apple_refuse_each_with_their_own_reason(
    field: Asked, backend: str, create: Callable[[VmSpec], None]
) -> None:
    with pytest.raises(Unimplemented) as refusal:
        create(spec_of(ASKING[field]))
    message = str(refusal.value)
    assert message.startswith(f"{field.value} is not supported: ")
    own, *others = {"docker": ("Docker", "Apple"), "apple": ("Apple", "Docker")}[backend]
    assert own in message
    for other in (*others, "microvm"):
        assert other not in message


@pytest.mark.parametrize("field", sorted(set(Asked) - HONOURED_BY_MICROVM, key=str))
def test_microvm_refuses_what_its_guest_cannot_do_with_its_own_reason(field: Asked) -> None:
    with pytest.raises(Unimplemented, match=rf"^{field.value} is not supported: the microvm"):
        microvm._refuse(spec_of(ASKING[field]))


@pytest.mark.parametrize("field", sorted(HONOURED_BY_MICROVM, key=str))
def test_microvm_honours_hugepages_unified_resources_ambient_capabilities_and_rro_mounts(
    field: Asked, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shares, "VIRTIOFSD", Path(__file__))  # planned, not started
    spec = spec_of(ASKING[field])
    microvm._refuse(spec)
    written = dict(limits.cgroup_files(spec.resources))
    ambient = privileges.settings(0, 0, spec.security, lambda name: [])["ambient_capabilities"]
    modes = [share.mode for share in shares.plan(spec.mounts)]
    expected = {
        Asked.HUGEPAGE_LIMITS: ({"hugetlb.2MB.max": str(4 << 20)}, 0, []),
        Asked.UNIFIED: ({"memory.high": "1"}, 0, []),
        Asked.AMBIENT_CAPABILITIES: ({}, 1 << CAPABILITIES.index("KILL"), []),
        Asked.RECURSIVE_READ_ONLY: ({}, 0, ["rro"]),
    }
    assert (written, ambient, modes) == expected[field]


def test_the_handler_advertises_recursive_read_only_mounts_where_the_backend_honours_them() -> None:
    # Status's RuntimeHandlerFeatures come from the backend's capabilities; its refusals table
    # must agree with them, or the kubelet would send what the backend refuses.
    for can, unhonoured_table in (
        (MicrovmBackend.capabilities, microvm.UNHONOURED),
        (DockerBackend.capabilities, docker.UNHONOURED),
        (AppleBackend.capabilities, apple.UNHONOURED),
    ):
        honoured = Asked.RECURSIVE_READ_ONLY not in unhonoured_table
        assert (Capability.RECURSIVE_READ_ONLY_MOUNTS in can) is honoured


def test_docker_refuses_them_in_an_update_too() -> None:
    backend = DockerBackend.__new__(DockerBackend)
    with pytest.raises(Unimplemented, match="unified is not supported: Docker Engine"):
        backend.update_resources("vm", ResourceSpec(unified=(("memory.high", "1"),)))


def test_a_relabel_on_a_host_without_selinux_asks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(refusals, "selinux_enabled", lambda: False)
    spec = spec_of(ASKING[Asked.SELINUX_RELABEL])
    assert not refusals.asked(spec)
    microvm._refuse(spec)
    apple_create(spec)


@pytest.mark.parametrize(
    ("unified", "files"),
    [
        ({"memory.high": "max", "pids.max": "9"}, [("memory.high", "max"), ("pids.max", "9")]),
        ({"io.max": "8:0 rbps=1\n8:16 wbps=2\n"},
         [("io.max", "8:0 rbps=1"), ("io.max", "8:16 wbps=2")]),
    ],
)  # fmt: skip
def test_unified_resources_are_written_last_and_line_by_line_as_runc_does(
    unified: dict[str, str], files: list[tuple[str, str]]
) -> None:
    resources = vm_specs.resources(cri.LinuxContainerResources(cpu_shares=2, unified=unified))
    assert list(limits.cgroup_files(resources)) == [("cpu.weight", "1"), *files]


@pytest.mark.parametrize("key", ["memory", "memory.", ".max", "memory/../x.max", "a=b.max"])
def test_a_unified_key_that_names_no_cgroup_file_is_invalid(key: str) -> None:
    with pytest.raises(InvalidArgument, match="unified"):
        limits.cgroup_files(ResourceSpec(unified=((key, "1"),)))


@pytest.mark.parametrize("size", ["2M", "2mb", "0MB", "../2MB", ""])
def test_a_hugepage_size_that_is_no_size_is_invalid(size: str) -> None:
    with pytest.raises(InvalidArgument, match="hugepage_limits"):
        limits.cgroup_files(ResourceSpec(hugepage_limits=((size, 1),)))
