"""Fields of a VM spec that reach Docker's create call (no Docker needed)."""

from __future__ import annotations

from reference_shim.backends.base import Placement, VmSpec
from reference_shim.backends.docker.translate import extra_config, host_config_args


def spec(**fields: object) -> VmSpec:
    return VmSpec(
        name="vm", image="sha256:1", argv=("sh",), labels={}, placement=Placement.own_vm("n"),
        **fields,  # type: ignore[arg-type]  # fields: any of VmSpec's
    )  # fmt: skip


def test_the_pods_cgroup_parent_is_the_containers_cgroup_parent() -> None:
    assert host_config_args(spec(cgroup_parent="/kubepods/pod1"))["cgroup_parent"] == (
        "/kubepods/pod1"
    )
    assert host_config_args(spec())["cgroup_parent"] is None  # Docker's own default


def test_stdin_once_reaches_docker_as_stdin_once() -> None:
    assert extra_config(spec(stdin=True, stdin_once=True)) == {"StdinOnce": True}
    assert extra_config(spec(stdin=True)) == {"StdinOnce": False}
