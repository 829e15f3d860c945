"""VM specs made by the shim's CRI layer from CRI configs, as the apple backend receives them."""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

from cri_api.v1 import api_pb2 as cri
from cri_config_fields import ContainerConfigFields, PodSandboxConfigFields

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.base import VmSpec
from reference_shim.cri.convert import vm_specs
from reference_shim.state import ids
from reference_shim.state.records import ContainerRecord, PodRecord
from reference_shim.strategies.reject import RejectStrategy


def pod_config(name: str = "web", **fields: Unpack[PodSandboxConfigFields]) -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=name, namespace="ns", uid="uid-" + name), **fields
    )


def container_config(
    image: str, name: str = "main", **fields: Unpack[ContainerConfigFields]
) -> cri.ContainerConfig:
    fields.setdefault("command", ["sleep", "3600"])
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name), image=cri.ImageSpec(image=image), **fields
    )


def run_pod(
    backend: AppleBackend, config: cri.PodSandboxConfig, dns_dir: Path | None = None
) -> PodRecord:
    """RunPodSandbox as the CRI layer does it, on the reject strategy's placement."""
    pod = PodRecord(id=ids.new_id(), config=config, runtime_handler="", created_at=1)
    placement = RejectStrategy(backend).place_pod(pod)
    pod.vm_id = backend.create_vm(vm_specs.pod_spec(pod, "unused", placement))
    pod.ip = backend.start_vm(pod.vm_id).ip
    return pod


def container_spec(
    backend: AppleBackend,
    pod: PodRecord,
    config: cri.ContainerConfig,
    resolv_conf: Path | None = None,
) -> VmSpec:
    image = backend.images.get(config.image.image) or backend.images.pull(
        config.image.image, "", ""
    )
    record = ContainerRecord(
        id=ids.new_id(),
        pod_id=pod.id,
        config=config,
        created_at=1,
        image_ref="",
        image_id=image.id,
        log_path="",
    )
    placement = RejectStrategy(backend).place_container(pod, [], config)
    return vm_specs.container_spec(record, pod, image, placement, vm_specs.PodFiles(resolv_conf))


def create(
    backend: AppleBackend,
    pod: PodRecord,
    config: cri.ContainerConfig,
    resolv_conf: Path | None = None,
) -> str:
    return backend.create_vm(container_spec(backend, pod, config, resolv_conf))


def resolv_conf(folder: Path, dns: cri.DNSConfig) -> Path:
    """The pod's resolv.conf, as RunPodSandbox writes it for its containers."""
    path = folder / "resolv.conf"
    path.write_text(vm_specs.resolv_conf(dns))
    return path
