"""Pod and container configs with the harness's defaults, so tests state only what they check.

Every config the harness builds is owned by the run: it carries the run label, and the test
that made it in an annotation, so leaks can be traced to their test.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from cri_api.v1 import api_pb2 as cri

from harness.ownership import TEST_ANNOTATION, RunOwnership

POD_NAMESPACE = "cri-conformance"


def unique_name(base: str) -> str:
    """A DNS-1123 label that no concurrent test (or xdist worker) will pick too."""
    return f"{base}-{secrets.token_hex(4)}"


def owned(
    labels: dict[str, str] | None, annotations: dict[str, str] | None, run_id: str, test: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The caller's labels and annotations plus the run's ownership marks."""
    owned_labels = {**(labels or {}), **RunOwnership(run_id).labels}
    owned_annotations = {**(annotations or {}), TEST_ANNOTATION: test}
    return owned_labels, owned_annotations


def pod_config(
    name: str,
    *,
    run_id: str,
    test: str = "",
    namespace: str = POD_NAMESPACE,
    uid: str | None = None,
    attempt: int = 0,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **fields: Any,
) -> cri.PodSandboxConfig:
    """A PodSandboxConfig named exactly ``name``; other fields pass through to the message."""
    owned_labels, owned_annotations = owned(labels, annotations, run_id, test)
    metadata = cri.PodSandboxMetadata(
        name=name, namespace=namespace, uid=uid or str(uuid.uuid4()), attempt=attempt
    )
    return cri.PodSandboxConfig(
        metadata=metadata, labels=owned_labels, annotations=owned_annotations, **fields
    )


def container_config(
    name: str,
    image: str,
    *,
    run_id: str,
    test: str = "",
    attempt: int = 0,
    command: list[str] | None = None,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **fields: Any,
) -> cri.ContainerConfig:
    """A ContainerConfig; ``env`` is a plain dict, other fields pass through to the message."""
    owned_labels, owned_annotations = owned(labels, annotations, run_id, test)
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        image=cri.ImageSpec(image=image),
        command=command or [],
        args=args or [],
        envs=[cri.KeyValue(key=key, value=value) for key, value in (env or {}).items()],
        labels=owned_labels,
        annotations=owned_annotations,
        **fields,
    )


def pid_namespace(mode: int, target_id: str = "") -> cri.LinuxContainerConfig:
    """A container's Linux config asking for a PID namespace mode.

    Without one, the CRI default is POD (``NamespaceMode`` 0): the container shares the pod's
    PID namespace, so its own process is not PID 1. Tests that read /proc/1 ask for CONTAINER.
    """
    options = cri.NamespaceOption(pid=mode, target_id=target_id)  # type: ignore[arg-type]
    return cri.LinuxContainerConfig(
        security_context=cri.LinuxContainerSecurityContext(namespace_options=options)
    )
