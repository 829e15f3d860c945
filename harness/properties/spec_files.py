"""Pod specs as files: what a property ran, saved so anyone can run it again.

A spec is a pod config, the container configs to create in it, and the property to check.
Files are JSON with the configs in protobuf's canonical JSON mapping (``json_format``), so
they stay readable, diffable and loadable by any protobuf implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cri_api.v1 import api_pb2 as cri
from google.protobuf import json_format

from harness.json_files import read_json, write_json
from harness.ownership import RUN_LABEL, TEST_ANNOTATION

FORMAT = "cri-conformance/spec/v1"


class SpecFileError(Exception):
    """A spec file that cannot be read; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Spec:
    """One example: the configs to create and the property they must keep.

    ``params`` carries what a property needs beyond the configs (an unknown id, the call to
    make); ``volume_root`` is the host folder every host-path mount of the spec lives under.
    """

    property: str
    pod: cri.PodSandboxConfig
    containers: tuple[cri.ContainerConfig, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    volume_root: str = ""

    def __repr__(self) -> str:
        """One line for hypothesis' report; the whole spec is in the saved file."""
        pod = self.pod.metadata.name if self.pod.HasField("metadata") else "<no metadata>"
        names = [c.metadata.name if c.HasField("metadata") else "<none>" for c in self.containers]
        return f"Spec({self.property!r}, pod={pod!r}, containers={names!r}, params={self.params!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis' pretty printer would list every field; the short form is enough."""
        printer.text(repr(self))

    def owned_by(self, run_id: str, test: str) -> Spec:
        """The same spec, labelled for another run (a replay owns what it creates)."""
        return replace(
            self,
            pod=_relabelled(self.pod, run_id, test),
            containers=tuple(_relabelled(config, run_id, test) for config in self.containers),
        )

    def moved_to(self, volume_root: str, log_directory: str) -> Spec:
        """The same spec with host paths under new folders (the old ones may be gone)."""
        pod = cri.PodSandboxConfig()
        pod.CopyFrom(self.pod)
        if pod.log_directory:
            pod.log_directory = log_directory
        containers = []
        for config in self.containers:
            moved = cri.ContainerConfig()
            moved.CopyFrom(config)
            for mount in moved.mounts:
                if self.volume_root and mount.host_path.startswith(self.volume_root + "/"):
                    mount.host_path = volume_root + mount.host_path[len(self.volume_root) :]
            containers.append(moved)
        return replace(self, pod=pod, containers=tuple(containers), volume_root=volume_root)


def _relabelled(config: Any, run_id: str, test: str) -> Any:
    copy = type(config)()
    copy.CopyFrom(config)
    copy.labels[RUN_LABEL] = run_id
    copy.annotations[TEST_ANNOTATION] = test
    return copy


def to_json(spec: Spec, **context: object) -> dict[str, object]:
    """The file's content; ``context`` (seed, profile, failure...) is kept for people."""
    return {
        "format": FORMAT,
        "property": spec.property,
        "params": dict(spec.params),
        "volume_root": spec.volume_root,
        "pod": json_format.MessageToDict(spec.pod, preserving_proto_field_name=True),
        "containers": [
            json_format.MessageToDict(config, preserving_proto_field_name=True)
            for config in spec.containers
        ],
        "context": context,
    }


def from_json(data: object, source: str = "spec") -> Spec:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SpecFileError(f"{source}: not a spec file (expected format {FORMAT!r})")
    try:
        return Spec(
            property=str(data["property"]),
            pod=json_format.ParseDict(data["pod"], cri.PodSandboxConfig()),
            containers=tuple(
                json_format.ParseDict(config, cri.ContainerConfig())
                for config in data.get("containers", [])
            ),
            params={str(key): str(value) for key, value in data.get("params", {}).items()},
            volume_root=str(data.get("volume_root", "")),
        )
    except KeyError as missing:
        raise SpecFileError(f"{source}: missing {missing}") from None
    except json_format.ParseError as error:
        raise SpecFileError(f"{source}: {error}") from None


def save(spec: Spec, path: Path, **context: object) -> Path:
    return write_json(path, to_json(spec, **context))


def load(path: Path) -> Spec:
    return from_json(read_json(path, SpecFileError), str(path))
