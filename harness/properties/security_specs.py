"""Hypothesis strategies for a container's security context, valid by construction.

Capabilities added and dropped (from a set none of which lets a container that only sleeps
reach the node), the user, group and supplemental groups, a read-only root filesystem,
no_new_privs and a seccomp profile; never privileged. ``specs.container_configs`` draws one
when asked (``security=True``).
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

# Capabilities a container may add or drop: none lets a busybox that only sleeps reach the node.
SOME_CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "KILL",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SYS_PTRACE",
    "SYS_TIME",
)
# root, an ordinary uid, and nobody; none needs an entry in the image's /etc/passwd.
SOME_IDS = (0, 1000, 65534)


def capability_sets() -> SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(SOME_CAPABILITIES), max_size=3, unique=True)


def seccomp_profiles() -> SearchStrategy[cri.SecurityProfile | None]:
    """None (the runtime's choice), RuntimeDefault or Unconfined; Localhost needs a file."""
    kinds = st.sampled_from([cri.SecurityProfile.RuntimeDefault, cri.SecurityProfile.Unconfined])
    return st.one_of(st.none(), st.builds(cri.SecurityProfile, profile_type=kinds))


@st.composite
def security_contexts(
    draw: st.DrawFn, namespace_options: cri.NamespaceOption
) -> cri.LinuxContainerSecurityContext:
    """Capabilities, user and groups, read-only root, no_new_privs and seccomp, none privileged.

    A group is set only with a user (runtimes refuse a group alone).
    """
    user = draw(st.one_of(st.none(), st.sampled_from(SOME_IDS)))
    group = draw(st.one_of(st.none(), st.sampled_from(SOME_IDS))) if user is not None else None
    return cri.LinuxContainerSecurityContext(
        namespace_options=namespace_options,
        capabilities=cri.Capability(
            add_capabilities=draw(capability_sets()), drop_capabilities=draw(capability_sets())
        ),
        run_as_user=None if user is None else cri.Int64Value(value=user),
        run_as_group=None if group is None else cri.Int64Value(value=group),
        supplemental_groups=draw(st.lists(st.sampled_from(SOME_IDS), max_size=2, unique=True)),
        readonly_rootfs=draw(st.booleans()),
        no_new_privs=draw(st.booleans()),
        seccomp=draw(seccomp_profiles()),
    )
