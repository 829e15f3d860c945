"""User namespaces (api.proto NamespaceOption.userns_options, mode POD with mappings): what the
kubelet sends for a pod with ``hostUsers: false``.

The container must see the mapping in /proc/self/uid_map and gid_map, its root must be the
mapped host uid as the host sees the process (where it is a process of this host) and as the
host sees the files it writes to a folder mounted from the host (a VM runtime's too), and the
image's files, owned by root, must be owned by root inside (not by the overflow uid of an
unmapped owner). Asked for only where the
handler advertises ``user_namespaces``; elsewhere the runtime must refuse the pod
(harness.advertised).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.advertised import Flag, advertisement, asking_for
from harness.client import CriClient
from harness.factories import ContainerFactory, PodFactory
from harness.probes import exec_ok, read_file_in
from harness.security import pod_security, secured

# The kubelet hands each pod 65536 ids starting at a multiple of 65536 above the node's own.
HOST_BASE = 65536 * 40
LENGTH = 65536
MAPPING = api.IDMapping(host_id=HOST_BASE, container_id=0, length=LENGTH)


def user_namespace() -> api.NamespaceOption:
    return api.NamespaceOption(
        userns_options=api.UserNamespace(mode=api.POD, uids=[MAPPING], gids=[MAPPING])
    )


def id_map(text: str) -> list[list[int]]:
    return [[int(word) for word in line.split()] for line in text.splitlines() if line.strip()]


def host_uids_of(marker: str) -> list[str] | None:
    """The real, effective, saved and fs uids of the host process whose argv holds ``marker``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() not in (proc / "cmdline").read_bytes():
                continue
            status = (proc / "status").read_text()
        except OSError:  # it ended meanwhile
            continue
        return next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    return None


@pytest.mark.feature("security.user-namespace.pod")
def test_a_pod_user_namespace_maps_the_container_ids(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    runtime_handler: str,
    tmp_path: Path,
) -> None:
    # api.proto UserNamespace: mode POD, "Uids specifies the UID mappings for the user
    # namespace", "Gids ... the GID mappings"; the kubelet sets the same options on the pod and
    # on each of its containers.
    advert = advertisement(cri, Flag.USER_NAMESPACES, runtime_handler)
    marker = f"userns-{uuid.uuid4().hex}"
    # A folder of this host the container's root may write to; the mount asks for no idmapping
    # (no uidMappings), so what the container writes keeps its host uid.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    # A refusal excuses only the user namespace: the same pod without one must run.
    make_container(make_pod())
    with asking_for(advert):
        pod = make_pod(linux=pod_security(namespace_options=user_namespace()))
        container = make_container(
            pod,
            command=["sh", "-c", "sleep 3600 & wait", marker],  # sh stays, marked
            linux=secured(namespace_options=user_namespace()),
            mounts=[api.Mount(container_path="/shared", host_path=str(shared))],
        )
    expected = [[0, HOST_BASE, LENGTH]]
    for name in ("uid_map", "gid_map"):
        seen = id_map(read_file_in(cri, container, f"/proc/self/{name}"))
        assert seen == expected, (
            f"{advert.describe()} and the runtime took the pod; /proc/self/{name} in the "
            f"container is {seen}, the pod asked for {expected}"
        )
    owners = exec_ok(cri, container, "stat", "-c", "%u:%g", "/bin/busybox", "/etc/passwd")
    assert owners.split() == ["0:0", "0:0"], (
        f"the image's files, owned by root, are owned by {owners.split()} inside: the root "
        "filesystem is not mapped into the user namespace"
    )
    exec_ok(cri, container, "sh", "-c", "echo written > /shared/by-root")
    written = (shared / "by-root").stat()
    assert (written.st_uid, written.st_gid) == (HOST_BASE, HOST_BASE), (
        f"a file the container's root wrote to a folder mounted from the host is owned there by "
        f"{written.st_uid}:{written.st_gid}, expected {HOST_BASE}:{HOST_BASE} (the mapping)"
    )
    host_uids = host_uids_of(marker)
    if host_uids is not None:  # None: a VM runtime's process is its guest kernel's, not ours
        assert host_uids == [str(HOST_BASE)] * 4, (
            f"the container's root runs as host uids {host_uids}, expected {HOST_BASE} (the "
            "mapping)"
        )
