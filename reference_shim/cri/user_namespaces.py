"""User namespaces (NamespaceOption.userns_options): what a pod and its containers ask for,
checked as containerd 2.1 checks it, for a backend that runs them (Capability.USER_NAMESPACES;
the others refuse them in ``unhonoured``).

api.proto: the mode is NODE (no user namespace: the host's) or POD (one for the pod, with
the mappings given); "NamespaceMode for UserNamespace currently supports only POD and NODE,
not CONTAINER OR TARGET". containerd takes one uid and one gid mapping line, of length 1 at
least, both for POD and neither for NODE, and a container's must be its pod's: the kubelet
sets the same options on the pod and each of its containers. Anything else is bad input
(INVALID_ARGUMENT), and the message names the field.
"""

from __future__ import annotations

from collections.abc import Sequence

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import IdMapping
from reference_shim.errors import InvalidArgument

# The kernel's map lines: ids are 32 bits and (u32)-1 is no id, so an extent ends below it.
_ID_LIMIT = 2**32 - 1

Mappings = tuple[tuple[IdMapping, ...], tuple[IdMapping, ...]]  # uids, gids; both () : none
NONE: Mappings = ((), ())


def _extents(asked: Sequence[cri.IDMapping], field: str) -> tuple[IdMapping, ...]:
    if len(asked) > 1:
        raise InvalidArgument(
            f"{field}: only one mapping line is supported, got {len(asked)} (as containerd, "
            "whose snapshotters remap a root filesystem by one offset)"
        )
    for line in asked:
        if line.length < 1:
            raise InvalidArgument(f"{field}: invalid mapping length {line.length}")
        for name, first in (("container_id", line.container_id), ("host_id", line.host_id)):
            if first + line.length > _ID_LIMIT:
                raise InvalidArgument(
                    f"{field}: {name} {first} plus length {line.length} passes the last id "
                    f"{_ID_LIMIT - 1}"
                )
    return tuple(IdMapping(m.container_id, m.host_id, m.length) for m in asked)


def requested(options: cri.NamespaceOption, field: str) -> Mappings:
    """The uid and gid maps ``options`` ask for (``NONE``: no user namespace)."""
    if not options.HasField("userns_options"):
        return NONE
    userns = options.userns_options
    field = f"{field}.userns_options"
    uids = _extents(userns.uids, f"{field}.uids")
    gids = _extents(userns.gids, f"{field}.gids")
    mode = cri.NamespaceMode.Name(userns.mode)
    if userns.mode == cri.NODE:
        if uids or gids:
            raise InvalidArgument(
                f"{field}: mode NODE (the host's user namespace) takes no mappings, got "
                f"{len(uids)} uid and {len(gids)} gid mapping lines"
            )
        return NONE
    if userns.mode != cri.POD:
        raise InvalidArgument(f"{field}.mode {mode}: a user namespace is only NODE or POD")
    if not uids or not gids:
        raise InvalidArgument(f"{field}: mode POD needs uid and gid mappings")
    return uids, gids


def of_container(pod: cri.PodSandboxConfig, container: cri.ContainerConfig) -> Mappings:
    """The container's maps: its pod's (the containers of a pod share its user namespace); a
    container that asks for other ones is refused, one that asks for none gets the pod's."""
    field = "linux.security_context.namespace_options"
    pod_maps = requested(pod.linux.security_context.namespace_options, field)
    options = container.linux.security_context.namespace_options
    if not options.HasField("userns_options"):
        return pod_maps
    asked = requested(options, field)
    if asked != pod_maps:
        raise InvalidArgument(
            f"{field}.userns_options: the container asks for a user namespace other than its "
            "pod's; the containers of a pod share the pod's"
        )
    return asked
