"""Capabilities: what a container holds by default, what add and drop change, and that the
sets in /proc/self/status match what the kernel then allows or refuses."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness import host
from harness.capabilities import NODE_ADMIN, difference
from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.probes import capability_sets, exec_fails, read_proc_status, shell_in
from harness.security import capabilities, secured
from linux_capabilities import decode_caps

# Each needs its capability and nothing else a default container lacks.
MAKE_BRIDGE = "ip link add conformance0 type bridge"  # NET_ADMIN, in the pod's netns
MOUNT_TMPFS = "mount -t tmpfs tmpfs /mnt"  # SYS_ADMIN
CHOWN = "touch /tmp/owned && chown 4321 /tmp/owned"  # CHOWN


def with_caps(
    pod: Pod,
    make_container: ContainerFactory,
    add: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
) -> Container:
    linux = secured(capabilities=capabilities(add=add, drop=drop))
    return make_container(pod, linux=linux)


@pytest.mark.feature("security.capabilities.default")
def test_a_default_container_holds_no_node_admin_capability(
    cri: CriClient, shared_container: Container
) -> None:
    sets = capability_sets(cri, shared_container)
    assert sets["CapBnd"] & NODE_ADMIN == set(), f"bounding set has {sets['CapBnd'] & NODE_ADMIN}"
    assert sets["CapEff"] & NODE_ADMIN == set()
    exec_fails(cri, shared_container, "sh", "-c", MAKE_BRIDGE)
    exec_fails(cri, shared_container, "sh", "-c", "mkdir -p /mnt && " + MOUNT_TMPFS)


@pytest.mark.feature("security.capabilities.add")
def test_added_capabilities_are_held_and_work(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    # In a pod of its own: the bridge it makes stays in its pod's network namespace.
    container = with_caps(make_pod(), make_container, add=("NET_ADMIN", "SYS_ADMIN"))
    sets = capability_sets(cri, container)
    for name in ("CapEff", "CapBnd"):
        assert {"NET_ADMIN", "SYS_ADMIN"} <= sets[name], f"{name} is {sorted(sets[name])}"
    shell_in(cri, container, MAKE_BRIDGE)
    shell_in(cri, container, "mkdir -p /mnt && " + MOUNT_TMPFS)


@pytest.mark.feature("security.capabilities.drop")
def test_a_dropped_capability_is_gone_and_its_operation_refused(
    cri: CriClient, shared_container: Container, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    default = capability_sets(cri, shared_container)["CapEff"]
    assert "CHOWN" in default, "a default container should be able to chown (CAP_CHOWN)"
    container = with_caps(shared_pod, make_container, drop=("CHOWN",))
    effective = capability_sets(cri, container)["CapEff"]
    assert effective == default - {"CHOWN"}, (
        f"dropping CHOWN changed more than CHOWN: {sorted(effective ^ (default - {'CHOWN'}))}"
    )
    refusal = exec_fails(cri, container, "sh", "-c", CHOWN)
    assert b"Operation not permitted" in refusal.stderr


@pytest.mark.feature("security.capabilities.drop-all")
def test_dropping_all_leaves_no_capability(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = with_caps(shared_pod, make_container, drop=("ALL",))
    sets = capability_sets(cri, container)
    assert sets == {"CapEff": set(), "CapPrm": set(), "CapBnd": set()}
    exec_fails(cri, container, "sh", "-c", CHOWN)


@pytest.mark.feature("security.capabilities.drop-all-add-one")
def test_dropping_all_and_adding_one_leaves_exactly_that_one(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = with_caps(shared_pod, make_container, add=("NET_BIND_SERVICE",), drop=("ALL",))
    sets = capability_sets(cri, container)
    assert sets["CapEff"] == {"NET_BIND_SERVICE"}
    assert sets["CapBnd"] == {"NET_BIND_SERVICE"}


@pytest.mark.feature("security.capabilities.add-and-drop")
def test_a_capability_both_added_and_dropped_is_dropped(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = with_caps(
        shared_pod,
        make_container,
        add=("NET_ADMIN", "SYS_ADMIN", "CHOWN"),
        drop=("NET_ADMIN", "CHOWN"),
    )
    sets = capability_sets(cri, container)
    for name in ("CapEff", "CapBnd"):
        assert "SYS_ADMIN" in sets[name], f"{name} lacks the capability only added"
        held = sets[name] & {"NET_ADMIN", "CHOWN"}
        assert not held, f"{name} holds {sorted(held)}, added and dropped"
    exec_fails(cri, container, "sh", "-c", MAKE_BRIDGE)
    exec_fails(cri, container, "sh", "-c", CHOWN)


@pytest.mark.feature("security.capabilities.add-all")
def test_adding_all_grants_every_capability_the_host_has(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = with_caps(shared_pod, make_container, add=("ALL",))
    sets, wanted = capability_sets(cri, container), host.bounding_capabilities()
    for name in ("CapBnd", "CapEff"):
        assert sets[name] == wanted, difference(name, sets[name], wanted)


@pytest.mark.feature("security.capabilities.ambient")
def test_an_ambient_capability_is_in_every_set_of_a_user_that_is_not_root(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    # api.proto Capability: "If a capability is added to only the add_ambient_capabilities list
    # then it gets added to all sets, i.e permitted inheritable, effective, bounding and ambient
    # sets." As uid 1000, whom the kernel gives no capability at exec but its ambient ones; the
    # process is ExecSync's, which runs with the container's process settings.
    linux = secured(
        run_as_user=api.Int64Value(value=1000),
        capabilities=api.Capability(add_ambient_capabilities=["NET_BIND_SERVICE"]),
    )
    container = make_container(shared_pod, linux=linux)
    status = read_proc_status(cri, container)
    missing = [
        name
        for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
        if "NET_BIND_SERVICE" not in decode_caps(status[name])
    ]
    assert not missing, f"NET_BIND_SERVICE is not in {missing} of uid {status['Uid'].split()[0]}"
