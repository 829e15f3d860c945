"""Who a container's first process runs as, read from inside, and ContainerStatus.user against it.

The container's command prints ``id -u``, ``id -g`` and ``id -G`` before it sleeps; an exec'd
``id`` must agree with it. The truth is that first process, not the runtime's report.
"""

from __future__ import annotations

from harness.client import CriClient
from harness.cri_logs import wait_for_output
from harness.factories import Container
from harness.probes import exec_ok

# The container command that prints its identity, then stays up for the checks.
IDENTITY = ["sh", "-c", "id -u; id -g; id -G; exec sleep 3600"]

Identity = tuple[str, str, set[str]]


def identity(cri: CriClient, container: Container) -> Identity:
    """(uid, gid, groups) of the container's own process and of an exec'd one, which agree."""
    uid_line, gid_line, groups_line = wait_for_output(container, 3)
    exec_id = exec_ok(cri, container, "sh", "-c", "id -u; id -g; id -G").splitlines()
    main = (uid_line, gid_line, set(groups_line.split()))
    assert (exec_id[0], exec_id[1], set(exec_id[2].split())) == main, (
        f"an exec'd process runs as {exec_id}, the container's process as {main}"
    )
    return main


def status_user_problem(cri: CriClient, container: Container, seen: Identity) -> str | None:
    """How ContainerStatus.user differs from the identity the process runs with, or None.

    api.proto ContainerStatus.user: "User identities initially attached to the container";
    LinuxContainerUser: the uid, gid and supplemental_groups "initially attached to the first
    process in the container". `id -G` lists the primary gid with the supplementary ones;
    runtimes differ on whether supplemental_groups repeats the gid (containerd does), so the gid
    is added on our side.
    """
    reported = cri.container_status(container.id).status.user
    if not reported.HasField("linux"):
        return "ContainerStatus.user is not set"
    status = reported.linux
    user, group, groups = seen
    if (str(status.uid), str(status.gid)) != (user, group):
        return (
            f"ContainerStatus.user reports uid {status.uid} gid {status.gid}; "
            f"the process runs as uid {user} gid {group}"
        )
    if {str(g) for g in status.supplemental_groups} | {group} != groups:
        return (
            f"ContainerStatus.user reports groups {sorted(status.supplemental_groups)}; "
            f"the process has {sorted(groups)}"
        )
    return None
