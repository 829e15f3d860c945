"""Factories behind the ``make_pod`` and ``make_container`` fixtures.

They create real objects on the runtime, register each with the test's tracker before
anything else can fail, and hand back small records holding the id and the config used,
so a test can compare what it asked for with what the runtime reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cri_api.v1 import api_pb2 as cri

from harness.builders import container_config, pod_config, unique_name
from harness.client import CriClient
from harness.images.catalog import ImageCatalog
from harness.resources import ResourceTracker

DEFAULT_COMMAND = ["sleep", "3600"]


@dataclass(frozen=True)
class Pod:
    id: str
    config: cri.PodSandboxConfig

    @property
    def name(self) -> str:
        return self.config.metadata.name


@dataclass(frozen=True)
class Container:
    id: str
    pod: Pod
    config: cri.ContainerConfig

    @property
    def name(self) -> str:
        return self.config.metadata.name


class ImagePuller:
    """Pulls each image into the runtime at most once per worker."""

    def __init__(self, client: CriClient) -> None:
        self._client = client
        self._pulled: set[str] = set()

    def ensure(self, image: str, pod_config: cri.PodSandboxConfig | None = None) -> None:
        if image in self._pulled:
            return
        self._client.pull_image(image, pod_config)
        self._pulled.add(image)

    def forget(self, image: str) -> None:
        """Call after removing an image, so the next use pulls it again."""
        self._pulled.discard(image)


@dataclass
class RunContext:
    """What every factory needs to know about the run and the test."""

    client: CriClient
    tracker: ResourceTracker
    run_id: str
    test: str
    log_root: Path
    runtime_handler: str = ""


def create_container(
    context: RunContext, puller: ImagePuller | None, pod: Pod, config: cri.ContainerConfig
) -> Container:
    """Pull the image if needed (unless ``puller`` is None), create the container in ``pod``,
    and track it at once."""
    if puller is not None:
        puller.ensure(config.image.image, pod.config)
    container_id = context.client.create_container(pod.id, config, pod.config)
    context.tracker.add_container(container_id, pod.id)
    return Container(container_id, pod, config)


class PodFactory:
    """``make_pod(name="web", hostname="h")`` runs a ready pod sandbox owned by the test."""

    def __init__(self, context: RunContext) -> None:
        self._context = context

    def config(self, name: str = "pod", **fields: Any) -> cri.PodSandboxConfig:
        """A labelled config with a unique name and its own log directory, not yet run."""
        unique = unique_name(name)
        fields.setdefault("log_directory", str(self._context.log_root / unique))
        return pod_config(unique, run_id=self._context.run_id, test=self._context.test, **fields)

    def run(self, config: cri.PodSandboxConfig, runtime_handler: str | None = None) -> Pod:
        handler = self._context.runtime_handler if runtime_handler is None else runtime_handler
        pod_id = self._context.client.run_pod(config, handler)
        self._context.tracker.add_pod(pod_id)
        return Pod(pod_id, config)

    def __call__(self, name: str = "pod", **fields: Any) -> Pod:
        return self.run(self.config(name, **fields))


class ContainerFactory:
    """``make_container(pod, command=[...])`` creates (and by default starts) a container."""

    def __init__(self, context: RunContext, images: ImageCatalog, puller: ImagePuller) -> None:
        self._context = context
        self._images = images
        self._puller = puller

    def config(
        self, name: str = "container", image: str | None = None, **fields: Any
    ) -> cri.ContainerConfig:
        # Unique: containers of a shared pod (one after another) must not share a log file.
        fields.setdefault("log_path", f"{unique_name(name)}.log")
        if "command" not in fields and "args" not in fields:
            fields["command"] = DEFAULT_COMMAND
        return container_config(
            name,
            image or self._images.busybox.ref,
            run_id=self._context.run_id,
            test=self._context.test,
            **fields,
        )

    def create(self, pod: Pod, config: cri.ContainerConfig) -> Container:
        return create_container(self._context, self._puller, pod, config)

    def __call__(
        self,
        pod: Pod,
        name: str = "container",
        image: str | None = None,
        start: bool = True,
        **fields: Any,
    ) -> Container:
        container = self.create(pod, self.config(name, image, **fields))
        if start:
            self._context.client.start_container(container.id)
        return container
