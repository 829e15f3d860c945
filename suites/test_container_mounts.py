"""Host path mounts: read-write, read-only, single files, symlinks, status, propagation, and
recursive read-only mounts.

The runtime runs on this machine, so the host side of each mount is a pytest tmp_path and
the test checks both sides.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness import host
from harness.advertised import Flag, advertisement, asking_for, refuse_if_predating
from harness.client import CriClient
from harness.expect import refused
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.probes import exec_fails, exec_ok, mount_options, read_only_problem, shell_in
from harness.security import pod_security, secured


def mounted(pod: Pod, make_container: ContainerFactory, *mounts: api.Mount) -> Container:
    return make_container(pod, mounts=list(mounts))


def host_dir(tmp_path: Path, name: str, **files: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    for file_name, content in files.items():
        (directory / file_name).write_text(content)
    return directory


@pytest.mark.feature("container.mount.read-write")
def test_a_read_write_mount_shares_files_both_ways(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    source = host_dir(tmp_path, "rw", **{"from-host": "written on the host\n"})
    container = mounted(
        shared_pod, make_container, api.Mount(container_path="/data", host_path=str(source))
    )
    assert exec_ok(cri, container, "cat", "/data/from-host") == "written on the host\n"
    shell_in(cri, container, "echo written inside > /data/from-container")
    assert (source / "from-container").read_text() == "written inside\n"
    (source / "later").write_text("after start\n")
    assert exec_ok(cri, container, "cat", "/data/later") == "after start\n"
    assert "rw" in mount_options(cri, container, "/data")


@pytest.mark.feature("container.mount.read-only")
def test_a_read_only_mount_can_be_read_but_not_written(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    source = host_dir(tmp_path, "ro", present="readable\n")
    mount = api.Mount(container_path="/data", host_path=str(source), readonly=True)
    container = mounted(shared_pod, make_container, mount)
    assert exec_ok(cri, container, "cat", "/data/present") == "readable\n"
    refusal = exec_fails(cri, container, "touch", "/data/new-file")
    assert b"Read-only file system" in refusal.stderr
    assert not (source / "new-file").exists()
    assert "ro" in mount_options(cri, container, "/data")


@pytest.mark.feature("container.mount.single-file")
def test_a_single_host_file_can_be_mounted_and_written_through(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    source = tmp_path / "settings.conf"
    source.write_text("key=value\n")
    mount = api.Mount(container_path="/etc/settings.conf", host_path=str(source))
    container = mounted(shared_pod, make_container, mount)
    assert exec_ok(cri, container, "cat", "/etc/settings.conf") == "key=value\n"
    shell_in(cri, container, "echo added=inside >> /etc/settings.conf")
    assert source.read_text() == "key=value\nadded=inside\n"


@pytest.mark.feature("container.mount.symlink-host-path")
def test_a_host_path_that_is_a_symlink_mounts_its_target(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    target = host_dir(tmp_path, "target", flag="through the link\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    container = mounted(
        shared_pod, make_container, api.Mount(container_path="/data", host_path=str(link))
    )
    assert exec_ok(cri, container, "cat", "/data/flag") == "through the link\n"


@pytest.mark.feature("container.mount.status")
def test_status_reports_the_mounts_in_effect(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, tmp_path: Path
) -> None:
    # api.proto ContainerStatus.mounts ("Mounts for the container") reports the container's
    # mounts; each must be in effect inside: container_path mounted from host_path, and
    # read-only exactly when reported so (Mount.readonly: "If set, the mount is read-only").
    mounts = [
        api.Mount(container_path="/a", host_path=str(host_dir(tmp_path, "a", origin="a\n"))),
        api.Mount(
            container_path="/b",
            host_path=str(host_dir(tmp_path, "b", origin="b\n")),
            readonly=True,
        ),
    ]
    container = mounted(shared_pod, make_container, *mounts)
    reported = cri.container_status(container.id).status.mounts

    def summary(mount: api.Mount) -> tuple[str, str, bool, int]:
        return (mount.container_path, mount.host_path, mount.readonly, mount.propagation)

    assert sorted(map(summary, reported)) == sorted(map(summary, mounts))
    for mount in reported:
        mode = "ro" if mount.readonly else "rw"
        options = mount_options(cri, container, mount.container_path)
        assert mode in options, (
            f"status reports {mount.container_path} {mode}; /proc/self/mountinfo has {options}"
        )
        inside = exec_ok(cri, container, "cat", f"{mount.container_path}/origin")
        assert inside == (Path(mount.host_path) / "origin").read_text(), (
            f"{mount.container_path} does not show the files of {mount.host_path}"
        )


def propagation_container(
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    shared: Path,
    propagation: int,
) -> Container:
    """A container with ``shared`` at /shared; privileged (in a privileged pod of its own)
    when propagation is bidirectional."""
    privileged = propagation == api.PROPAGATION_BIDIRECTIONAL
    pod = make_pod(linux=pod_security(privileged=privileged)) if privileged else shared_pod
    mount = api.Mount(container_path="/shared", host_path=str(shared), propagation=propagation)  # type: ignore[arg-type]
    return make_container(pod, mounts=[mount], linux=secured(privileged=privileged))


@pytest.mark.parametrize(
    ("propagation", "seen"),
    [
        pytest.param(
            api.PROPAGATION_PRIVATE, False,
            marks=pytest.mark.feature("container.mount.propagation-private"), id="private",
        ),
        pytest.param(
            api.PROPAGATION_HOST_TO_CONTAINER, True,
            marks=pytest.mark.feature("container.mount.propagation-host-to-container"),
            id="host-to-container",
        ),
        pytest.param(
            api.PROPAGATION_BIDIRECTIONAL, True,
            marks=pytest.mark.feature("container.mount.propagation-bidirectional"),
            id="bidirectional",
        ),
    ],
)  # fmt: skip
def test_a_host_mount_made_after_start_reaches_the_container_only_with_propagation(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    shared_host_dir: Path,
    tmp_path: Path,
    propagation: int,
    seen: bool,
) -> None:
    (shared_host_dir / "later").mkdir()
    container = propagation_container(
        make_pod, shared_pod, make_container, shared_host_dir, propagation
    )
    assert cri.container_status(container.id).status.mounts[0].propagation == propagation
    host.bind_mount(
        host_dir(tmp_path, "source", flag="mounted on the host\n"), shared_host_dir / "later"
    )
    listing = exec_ok(cri, container, "ls", "/shared/later")
    assert (listing == "flag\n") is seen, (
        f"after the host mounted a directory under the mount, the container lists "
        f"{listing!r}; with {api.MountPropagation.Name(propagation)} it should "  # type: ignore[arg-type]
        + ("see it" if seen else "not see it")
    )


@pytest.mark.feature("container.mount.propagation-bidirectional")
def test_a_mount_made_inside_a_bidirectional_mount_reaches_the_host(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    shared_host_dir: Path,
) -> None:
    (shared_host_dir / "inner").mkdir()
    container = propagation_container(
        make_pod, shared_pod, make_container, shared_host_dir, api.PROPAGATION_BIDIRECTIONAL
    )
    shell_in(cri, container, "mount -t tmpfs tmpfs /shared/inner && echo made > /shared/inner/file")
    assert (shared_host_dir / "inner" / "file").read_text() == "made\n"


@pytest.mark.feature("container.mount.recursive-read-only")
def test_a_recursive_read_only_mount_makes_its_submounts_read_only(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    runtime_handler: str,
    host_tree_with_submount: Path,
) -> None:
    # api.proto Mount.recursive_read_only: "If set to true, the mount is made recursive
    # read-only"; a plain read-only bind leaves the submounts under it writable. Asked for only
    # where RuntimeHandlerFeatures.recursive_read_only_mounts is advertised (else refused).
    advert = advertisement(cri, Flag.RECURSIVE_READ_ONLY_MOUNTS, runtime_handler)
    mount = api.Mount(
        container_path="/data",
        host_path=str(host_tree_with_submount),
        readonly=True,
        recursive_read_only=True,
    )
    # A refusal excuses only recursive_read_only: the same mount without it must be taken.
    plain = api.Mount(container_path="/data", host_path=mount.host_path, readonly=True)
    make_container(shared_pod, mounts=[plain])
    pod = make_pod()
    with asking_for(advert):
        container = make_container(pod, mounts=[mount])
    assert exec_ok(cri, container, "cat", "/data/sub/flag") == "on the submount\n"
    for path in ("/data", "/data/sub"):
        problem = read_only_problem(cri, container, path)
        assert problem is None, f"{advert.describe()} and the runtime took the mount; {problem}"
    assert not (host_tree_with_submount / "sub" / "new-file").exists()


@pytest.mark.parametrize(
    ("readonly", "propagation"),
    [
        pytest.param(False, api.PROPAGATION_PRIVATE, id="without-readonly"),
        pytest.param(True, api.PROPAGATION_HOST_TO_CONTAINER, id="host-to-container"),
    ],
)
@pytest.mark.feature("container.mount.recursive-read-only-invalid")
def test_recursive_read_only_needs_readonly_and_private_propagation(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    runtime_handler: str,
    shared_host_dir: Path,
    readonly: bool,
    propagation: int,
) -> None:
    # api.proto Mount.recursive_read_only: "when set to true, readonly must be explicitly set to
    # true, and propagation must be PRIVATE (0)"; a runtime taking such a mount would make it
    # writable, or propagate mounts into a tree the pod believes read-only. The host path is a
    # shared mount, and the same mount without recursive_read_only must be taken, so that only
    # recursive_read_only can be what is refused. A runtime that predates the field cannot see
    # it, so it is not asked.
    refuse_if_predating(advertisement(cri, Flag.RECURSIVE_READ_ONLY_MOUNTS, runtime_handler))
    mount = api.Mount(
        container_path="/data",
        host_path=str(shared_host_dir),
        readonly=readonly,
        propagation=propagation,  # type: ignore[arg-type]
    )
    make_container(shared_pod, mounts=[mount])  # taken without recursive_read_only
    mount.recursive_read_only = True
    pod = make_pod()
    with refused():
        make_container(pod, mounts=[mount])
