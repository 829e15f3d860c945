"""Config fields the shim does not honour, refused with UNIMPLEMENTED naming the field.

A field is refused only when it carries a value the shim cannot honour: its default (what the
kubelet sends when a pod does not ask for the feature) is always accepted, so that refusing a
feature never refuses every pod. The table of every field of PodSandboxConfig and
ContainerConfig, honoured, refused, per backend or not applicable, is docs/shim-cri-fields.md; a
unit test walks the API's descriptors and keeps this module and that table in step.

Only what no backend can honour is refused here. A field that one backend honours and another
cannot (hugepage limits, unified resources, ambient capabilities, recursive read-only mounts, an
SELinux relabel) goes on in the ``VmSpec``, and the backend refuses it with its own reason
(``reference_shim.backends.refusals``).
"""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri
from google.protobuf.message import Message

from reference_shim.backends.base import Capability
from reference_shim.cri import user_namespaces
from reference_shim.errors import Unimplemented

_NAMESPACES = ("network", "pid", "ipc")
# The modes honoured besides NODE (refused: a VM has its own kernel). A container's pid may be
# TARGET: the strategy joins the sibling's namespace where it can, or refuses.
_Modes = dict[str, set["cri.NamespaceMode.ValueType"]]
_CONTAINER_MODES: _Modes = {"network": {cri.POD}, "pid": {cri.POD, cri.CONTAINER, cri.TARGET}}
_POD_MODES: _Modes = {"network": {cri.POD}, "pid": {cri.POD, cri.CONTAINER}}
_WHY_NOT = {
    "network": "the network namespace is the pod's (Kubernetes sets only POD or NODE)",
    "ipc": "the IPC namespace is the pod's (Kubernetes sets only POD or NODE)",
    "pid": "a pod sandbox has no container whose PID namespace it could join",
}


def refuse(field: str, why: str) -> None:
    raise Unimplemented(f"{field} is not supported: {why}")


def _is_set(message: Message) -> bool:
    """Whether a message field carries anything but its defaults."""
    return bool(message.ListFields())


# -- shared by pods and containers ----------------------------------------------------


def _user_namespace(options: cri.NamespaceOption, field: str, supported: bool) -> None:
    """A backend that runs user namespaces gets them checked (``user_namespaces``); the others
    refuse any but the host's."""
    if supported:
        user_namespaces.requested(options, field)
        return
    userns = options.userns_options
    if options.HasField("userns_options") and userns.mode != cri.NODE:
        refuse(f"{field}.userns_options.mode", "user namespaces are not supported")
    if userns.uids or userns.gids:
        refuse(f"{field}.userns_options.uids/gids", "user namespace mappings need user namespaces")


def _namespaces(
    options: cri.NamespaceOption, field: str, honoured: _Modes, user_namespaces: bool
) -> None:
    for name in _NAMESPACES:
        mode = getattr(options, name)
        if mode == cri.NODE:
            refuse(
                f"{field}.{name} NODE",
                "a pod here is a VM with its own kernel, it cannot share the node's "
                f"{name} namespace",
            )
        if mode not in honoured.get(name, {cri.POD}):
            refuse(f"{field}.{name} {cri.NamespaceMode.Name(mode)}", _WHY_NOT[name])
    _user_namespace(options, field, user_namespaces)


def _security(
    context: cri.LinuxSandboxSecurityContext | cri.LinuxContainerSecurityContext,
    field: str,
    strict_groups: bool,
) -> None:
    if _is_set(context.selinux_options):
        refuse(f"{field}.selinux_options", "SELinux labels cannot be applied by this shim")
    if context.supplemental_groups_policy == cri.Strict and not strict_groups:
        refuse(
            f"{field}.supplemental_groups_policy Strict",
            "only Merge is supported by this backend: its engine adds the user's memberships "
            "from the image's /etc/group itself and cannot give exact groups",
        )


# -- pod sandbox ----------------------------------------------------------------------


def pod_config(config: cri.PodSandboxConfig, can: frozenset[Capability] = frozenset()) -> None:
    """``can``: the backend's capabilities; it may run user namespaces (USER_NAMESPACES), and
    give exact groups (STRICT_GROUPS)."""
    context = config.linux.security_context
    field = "linux.security_context"
    _namespaces(
        context.namespace_options, f"{field}.namespace_options", _POD_MODES,
        Capability.USER_NAMESPACES in can,
    )  # fmt: skip
    _security(context, field, Capability.STRICT_GROUPS in can)


# -- container ------------------------------------------------------------------------


def _mount(mount: cri.Mount, field: str) -> None:
    if mount.uidMappings or mount.gidMappings:
        refuse(f"{field}.uidMappings/gidMappings", "id-mapped mounts are not supported")


def container_config(config: cri.ContainerConfig, can: frozenset[Capability] = frozenset()) -> None:
    """``can``: as ``pod_config``'s."""
    context = config.linux.security_context
    field = "linux.security_context"
    _namespaces(
        context.namespace_options, f"{field}.namespace_options", _CONTAINER_MODES,
        Capability.USER_NAMESPACES in can,
    )  # fmt: skip
    _security(context, field, Capability.STRICT_GROUPS in can)
    for index, mount in enumerate(config.mounts):
        _mount(mount, f"mounts[{index}]")
    if config.CDI_devices:
        refuse("CDI_devices", "CDI devices are not supported")
