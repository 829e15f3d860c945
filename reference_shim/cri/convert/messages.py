"""Records as the CRI messages that list and status calls return."""

from __future__ import annotations

import json

from cri_api.v1 import api_pb2 as cri

from reference_shim.backends.base import ProcessUser
from reference_shim.state.records import ContainerRecord, PodRecord


def pod_item(pod: PodRecord) -> cri.PodSandbox:
    return cri.PodSandbox(
        id=pod.id,
        metadata=pod.config.metadata,
        state=pod.state,  # type: ignore[arg-type]
        created_at=pod.created_at,
        labels=pod.config.labels,
        annotations=pod.config.annotations,
        runtime_handler=pod.runtime_handler,
    )


def pod_status(pod: PodRecord) -> cri.PodSandboxStatus:
    return cri.PodSandboxStatus(
        id=pod.id,
        metadata=pod.config.metadata,
        state=pod.state,  # type: ignore[arg-type]
        created_at=pod.created_at,
        network=cri.PodSandboxNetworkStatus(ip=pod.ip),
        linux=cri.LinuxPodSandboxStatus(
            namespaces=cri.Namespace(options=pod.config.linux.security_context.namespace_options)
        ),
        labels=pod.config.labels,
        annotations=pod.config.annotations,
        runtime_handler=pod.runtime_handler,
    )


def _image(container: ContainerRecord) -> cri.ImageSpec:
    """The image as the client named it (containerd reports the same), without the handler."""
    spec = container.config.image
    return cri.ImageSpec(
        image=spec.image,
        annotations=spec.annotations,
        user_specified_image=spec.user_specified_image,
    )


def container_item(container: ContainerRecord) -> cri.Container:
    return cri.Container(
        id=container.id,
        pod_sandbox_id=container.pod_id,
        metadata=container.config.metadata,
        image=_image(container),
        image_ref=container.image_ref,
        image_id=container.image_id,
        state=container.state,  # type: ignore[arg-type]
        created_at=container.created_at,
        labels=container.config.labels,
        annotations=container.config.annotations,
    )


def container_status(container: ContainerRecord) -> cri.ContainerStatus:
    status = cri.ContainerStatus(
        id=container.id,
        metadata=container.config.metadata,
        state=container.state,  # type: ignore[arg-type]
        created_at=container.created_at,
        started_at=container.started_at,
        finished_at=container.finished_at,
        exit_code=container.exit_code,
        image=_image(container),
        image_ref=container.image_ref,
        image_id=container.image_id,
        reason=container.reason,
        message=container.message,
        labels=container.config.labels,
        annotations=container.config.annotations,
        mounts=container.config.mounts,
        log_path=container.log_path,
        resources=cri.ContainerResources(linux=container.resources),
        stop_signal=container.config.stop_signal,
    )
    if container.user.supplemental_groups:  # a known user lists its gid there at least
        status.user.linux.CopyFrom(container.user)
    return status


def verbose_info(details: dict[str, object]) -> dict[str, str]:
    """The ``info`` map of a verbose status: one JSON document under "info", as containerd."""
    return {"info": json.dumps(details, sort_keys=True)}


def status_user(user: ProcessUser | None) -> cri.LinuxContainerUser:
    """ContainerStatus.user from the process's credentials; empty when they are unknown.

    supplemental_groups lists the primary gid first, then the process's other groups, as
    containerd and CRI-O report them (they hand the gid to the OCI runtime among the additional
    gids). So a known user always has at least one group, and an unknown one none.
    """
    if user is None:
        return cri.LinuxContainerUser()
    others = [group for group in dict.fromkeys(user.groups) if group != user.gid]
    return cri.LinuxContainerUser(
        uid=user.uid, gid=user.gid, supplemental_groups=[user.gid, *others]
    )
