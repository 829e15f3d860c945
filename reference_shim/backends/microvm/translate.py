"""A ``VmSpec`` as what the agent runs, and what the backend refuses, with the reason.

Every field of the spec is either honoured here (argv, env and working dir over the image's,
uid/gid, hostname, read-only root; mounts from the host are ``shares``'), or refused with
UNIMPLEMENTED naming the field and why. A field at its default (what is sent when nothing is
asked) is never refused: AppArmor unset, no cgroup parent (``confinement`` says why). Seccomp
profiles are compiled to the filter the launcher installs (``seccomp_filter``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reference_shim.backends.base import Namespace, Placement, SecuritySpec, VmSpec
from reference_shim.backends.confinement import refuse_profiles
from reference_shim.backends.microvm import (
    devices,
    host_cgroup,
    limits,
    privileges,
    user_namespace,
)
from reference_shim.backends.microvm.images import StoredImage
from reference_shim.backends.microvm.launch import Launch
from reference_shim.backends.microvm.seccomp_filter import filter_settings
from reference_shim.backends.microvm.shares import Share
from reference_shim.backends.refusals import Asked, Reasons, asked, refuse
from reference_shim.errors import InvalidArgument, Unimplemented

# Honoured: hugepage limits and unified resources (cgroup files of the guest, ``limits``), and
# ambient capabilities (raised by the launcher, ``privileges``).
UNHONOURED: Reasons = {
    Asked.SELINUX_RELABEL: (
        "the microvm backend shares host folders over virtiofs as they are, it relabels no host "
        "path for SELinux"
    ),
}


def refuse_pod_features(spec: VmSpec) -> None:
    sctp = [port.host_port for port in spec.ports if port.protocol == "sctp" and port.host_port]
    if sctp:
        raise Unimplemented(
            f"port_mappings: SCTP host ports {sctp}: the microvm backend relays host ports in "
            "userspace (backends/microvm/ports.py), for TCP and UDP only"
        )
    for name in spec.sysctls:
        limits.sysctl_path(name)  # a name that is no sysctl is refused with the pod
    host_cgroup.relative(spec.cgroup_parent)  # the VM's QEMU goes below it (host_cgroup)


def _refuse_security(security: SecuritySpec) -> None:
    # seccomp is not refused: the launcher installs the filter (seccomp_filter)
    unfiltered = dataclasses.replace(security, seccomp="unconfined")
    refuse_profiles(unfiltered, "the microvm guest's agent loads no AppArmor profile yet")


def _refuse(spec: VmSpec) -> None:
    if spec.placement.pid_of:
        raise Unimplemented("sharing a PID namespace with another VM is impossible across VMs")
    refuse_pod_features(spec)  # a workload in a VM of its own carries the pod's ports, sysctls
    _refuse_security(spec.security)
    refuse(asked(spec), UNHONOURED)


def own_pid_namespace(placement: Placement) -> bool:
    """Whether the workload is PID 1 of a PID namespace of its own (CRI ``CONTAINER``, and a
    container in a VM of its own, whatever it asked: no namespace spans two kernels), rather
    than in its VM's, where the agent stands for the pod's infra process (``POD`` in the pod's
    VM; the strategies share ``Namespace.PID`` with the pod only then)."""
    return Namespace.PID not in placement.shared


def _table(rootfs: Path, name: str) -> list[list[str]]:
    try:
        return [line.split(":") for line in (rootfs / "etc" / name).read_text().splitlines()]
    except FileNotFoundError:
        return []


def _ids(user: str, rootfs: Path) -> tuple[int, int]:
    """``uid``, ``uid:gid``, a name, or ``name:group``, resolved in the image's own files
    (a bare uid takes its gid from /etc/passwd, as runc does)."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    entry = next(
        (e for e in _table(rootfs, "passwd")
         if len(e) > 3 and (e[0] == name or (name.isdigit() and e[2] == name))),
        None,
    )  # fmt: skip
    if not name.isdigit() and entry is None:
        raise InvalidArgument(f"user {name!r} is not in the image's /etc/passwd")
    uid = int(name) if name.isdigit() else int(entry[2]) if entry else 0
    if not group:
        return uid, int(entry[3]) if entry else 0
    if group.isdigit():
        return uid, int(group)
    found = next((e for e in _table(rootfs, "group") if len(e) > 2 and e[0] == group), None)
    if found is None:
        raise InvalidArgument(f"group {group!r} is not in the image's /etc/group")
    return uid, int(found[2])


def launch(
    spec: VmSpec, image: StoredImage, rootfs: Path, hostname: str, shared: tuple[Share, ...]
) -> Launch:
    """What the agent runs; ``shared`` are the spec's mounts as ``shares.plan`` made them."""
    _refuse(spec)
    env = dict(image.env)
    env.update(dict(spec.env))
    uid, gid = _ids(spec.security.user or image.info.user, rootfs)
    privileged = privileges.settings(uid, gid, spec.security, lambda name: _table(rootfs, name))
    return Launch(
        argv=spec.argv,
        env=tuple(env.items()),
        working_dir=spec.working_dir or image.working_dir or "/",
        uid=uid,
        gid=gid,
        hostname=hostname,
        readonly_rootfs=spec.security.readonly_rootfs,
        readonly_files=(),
        mounts=tuple((share.name, share.container_path, share.mode) for share in shared),
        tty=spec.tty,
        stdin=spec.stdin,
        stdin_once=spec.stdin and spec.stdin_once,
        own_pid_namespace=own_pid_namespace(spec.placement),
        **limits.settings(spec.resources, spec.sysctls),
        **filter_settings(spec.security, privileges.held_capabilities(spec.security)),
        **privileged,
        **user_namespace.settings(spec.security, uid, gid, privileged["groups"]),
        **devices.plan(
            spec.devices, spec.security.privileged, spec.security.readonly_rootfs
        ).launch_fields(),
    )
