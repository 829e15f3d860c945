"""``cri-conformance replay`` against containerd: a spec that holds passes, one that breaks
its property fails, and neither leaves anything behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api
from simplest_specs import SpecOptions, a_spec

from harness.builders import pid_namespace
from harness.cli import main
from harness.client import CriClient
from harness.ownership import TEST_ANNOTATION
from harness.properties import spec_files, specs


def replayed_objects(client: CriClient, path: Path) -> list[str]:
    """Anything a replay of ``path`` left on the runtime (its objects carry the file name)."""
    marker = f"replay {path}"
    pods = [p.id for p in client.list_pods() if p.annotations.get(TEST_ANNOTATION) == marker]
    containers = [
        c.id for c in client.list_containers() if c.annotations.get(TEST_ANNOTATION) == marker
    ]
    return pods + containers


# Typed, so that mypy checks the options against pod_specs' (a parametrize list is not checked).
REPLAYED: list[tuple[str, SpecOptions]] = [
    ("container-process", {}),
    ("mounts", {"mounts": True}),
    ("multi-shapes", {"containers": (2, 2), "pid_mode": specs.pid_modes()}),
]


@pytest.mark.parametrize(("property", "options"), REPLAYED)
def test_a_spec_that_holds_replays_to_exit_0(
    tmp_path: Path,
    containerd_endpoint: str,
    containerd: CriClient,
    capsys: pytest.CaptureFixture[str],
    property: str,
    options: SpecOptions,
) -> None:
    path = spec_files.save(a_spec(property, **options), tmp_path / "spec.json")
    assert main(["replay", str(path), "--cri-endpoint", containerd_endpoint]) == 0
    assert f"{property} (properties.{property})" in capsys.readouterr().out
    assert replayed_objects(containerd, path) == []


def test_a_spec_that_breaks_its_property_replays_to_exit_1(
    tmp_path: Path,
    containerd_endpoint: str,
    containerd: CriClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = a_spec("container-process")
    # Sharing the pod's PID namespace makes PID 1 the sandbox's process, not the container's.
    spec.containers[0].linux.CopyFrom(pid_namespace(api.POD))
    path = spec_files.save(spec, tmp_path / "spec.json")
    assert main(["replay", str(path), "--cri-endpoint", containerd_endpoint]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert replayed_objects(containerd, path) == []


def test_a_broken_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spec.json"
    path.write_text("{}")
    assert main(["replay", str(path), "--cri-endpoint", "unix:///nonexistent.sock"]) == 1
    assert capsys.readouterr().err.startswith(f"cri-conformance: {path}: not a spec file")
