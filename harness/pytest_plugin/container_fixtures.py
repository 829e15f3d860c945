"""Fixtures for the container and security suites that need something from the host.

Registered by the plugin (``plugin`` imports them). Each one undoes on the host what it did,
after removing the runtime objects that depend on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cri_api.v1 import api_pb2 as api

from harness import host
from harness.cgroups import cgroup_driver, new_cgroup_parent, remove_cgroup_parent
from harness.client import CriClient
from harness.factories import Pod, PodFactory
from harness.ownership import RunOwnership
from harness.resources import POD, Cleanup, ResourceTracker, remove


class CgroupPodFactory:
    """``make_cgroup_pod(labels=...)`` runs a pod under a cgroup parent of its own."""

    def __init__(self, cri: CriClient, make_pod: PodFactory, ownership: RunOwnership) -> None:
        self._cri = cri
        self._make_pod = make_pod
        self._ownership = ownership
        self._driver: int | None = None
        self.made: list[tuple[Pod, str]] = []

    @property
    def driver(self) -> int:
        """The runtime's cgroup driver, whose syntax the parents are written in."""
        if self._driver is None:
            self._driver = cgroup_driver(self._cri)
        return self._driver

    def parent_of(self, pod: Pod) -> str:
        return next(parent for made, parent in self.made if made.id == pod.id)

    def __call__(self, name: str = "pod", **fields: Any) -> Pod:
        parent = new_cgroup_parent(self.driver)
        linux = api.LinuxPodSandboxConfig()
        linux.CopyFrom(fields.pop("linux", linux))
        linux.cgroup_parent = parent
        pod = self._make_pod(name, linux=linux, **fields)
        self.made.append((pod, parent))
        return pod

    def cleanup(self) -> Cleanup:
        """Each pod before its parent: a cgroup is removed only once the runtime emptied it."""
        outcome = Cleanup()
        for pod, parent in reversed(self.made):
            outcome += remove(self._cri, self._ownership, POD, pod.id)
            outcome.errors += remove_cgroup_parent(parent)
        return outcome


@pytest.fixture
def make_cgroup_pod(
    cri: CriClient, make_pod: PodFactory, tracker: ResourceTracker
) -> Iterator[CgroupPodFactory]:
    """Pods under their own cgroup parent, as the kubelet runs them; parents removed after."""
    factory = CgroupPodFactory(cri, make_pod, tracker.ownership)
    yield factory
    factory.cleanup().settle()


@pytest.fixture
def shared_host_dir(tmp_path: Path) -> Iterator[Path]:
    """A host directory that is an rshared mount point, for mount propagation tests."""
    reason = host.mount_missing()
    if reason:
        pytest.skip(reason)
    with host.shared_mount(tmp_path / "shared") as path:
        yield path


@pytest.fixture
def host_tree_with_submount(tmp_path: Path) -> Iterator[Path]:
    """A host folder ``tree`` whose ``tree/sub`` is a mount of its own (holding ``flag``), for
    recursive mounts; unmounted afterwards."""
    reason = host.mount_missing()
    if reason:
        pytest.skip(reason)
    tree, inner = tmp_path / "tree", tmp_path / "inner"
    (tree / "sub").mkdir(parents=True)
    inner.mkdir()
    (inner / "flag").write_text("on the submount\n")
    host.bind_mount(inner, tree / "sub")
    try:
        yield tree
    finally:
        host.unmount(tree / "sub")
