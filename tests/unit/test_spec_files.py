"""Spec files: what a failing property saves is exactly what a replay loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.ownership import RUN_LABEL, TEST_ANNOTATION
from harness.properties import invalid_specs, spec_files, specs
from harness.properties.spec_files import Spec, SpecFileError

OWNER = specs.Owner("20260101-000000-abcdef", "tests::unit", "/old/logs", "/old/volumes")
IMAGE = "127.0.0.1:5000/cri-conformance/busybox:1.0"
ANY_SPEC = st.one_of(
    specs.pod_specs(OWNER, IMAGE, "mounts", containers=(0, 3), mounts=True, resources=True),
    invalid_specs.missing_fields(OWNER, IMAGE),
    invalid_specs.negative_resource_specs(OWNER, IMAGE),
)


def assert_same(loaded: Spec, spec: Spec) -> None:
    assert loaded.property == spec.property
    assert loaded.pod == spec.pod
    assert loaded.containers == spec.containers
    assert loaded.params == spec.params
    assert loaded.volume_root == spec.volume_root


@settings(max_examples=40)
@given(ANY_SPEC)
def test_a_spec_survives_json_unchanged(spec: Spec) -> None:
    text = json.dumps(spec_files.to_json(spec, seed=None, failure="x"), ensure_ascii=False)
    assert_same(spec_files.from_json(json.loads(text)), spec)


def test_save_then_load_gives_the_spec_back(tmp_path: Path) -> None:
    spec = Spec(
        "container-process",
        specs_pod(),
        (cri.ContainerConfig(metadata=cri.ContainerMetadata(name="c"), args=["a\nb", "ü", ""]),),
        {"case": "x"},
        "/old/volumes",
    )
    path = spec_files.save(spec, tmp_path / "nested" / "spec.json", seed="42", profile="ci")
    assert_same(spec_files.load(path), spec)
    context = json.loads(path.read_text())["context"]
    assert context == {"seed": "42", "profile": "ci"}


def specs_pod() -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p", namespace="n", uid="u", attempt=2),
        labels={RUN_LABEL: "old-run", "app": "x"},
        annotations={TEST_ANNOTATION: "old-test"},
        log_directory="/old/logs/p",
    )


def test_owned_by_relabels_for_another_run_and_changes_nothing_else() -> None:
    container = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"), labels={RUN_LABEL: "old-run", "k": "v"}
    )
    spec = Spec("pod-metadata", specs_pod(), (container,))
    owned = spec.owned_by("new-run", "replay x")
    assert owned.pod.labels[RUN_LABEL] == "new-run"
    assert owned.pod.annotations[TEST_ANNOTATION] == "replay x"
    assert owned.pod.labels["app"] == "x"
    assert owned.pod.metadata == spec.pod.metadata
    assert dict(owned.containers[0].labels) == {RUN_LABEL: "new-run", "k": "v"}
    assert spec.pod.labels[RUN_LABEL] == "old-run", "the original spec was changed"


def test_moved_to_puts_host_paths_under_the_new_folders() -> None:
    mounts = [
        cri.Mount(container_path="/mnt/a", host_path="/old/volumes/a"),
        cri.Mount(container_path="/mnt/b", host_path="/elsewhere/b"),
    ]
    spec = Spec("mounts", specs_pod(), (cri.ContainerConfig(mounts=mounts),), {}, "/old/volumes")
    moved = spec.moved_to("/new/volumes", "/new/logs/p")
    assert [m.host_path for m in moved.containers[0].mounts] == ["/new/volumes/a", "/elsewhere/b"]
    assert moved.pod.log_directory == "/new/logs/p"
    assert moved.volume_root == "/new/volumes"
    assert spec.containers[0].mounts[0].host_path == "/old/volumes/a"


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("[]", "not a spec file"),
        ('{"format": "other"}', "not a spec file"),
        (f'{{"format": "{spec_files.FORMAT}", "pod": {{}}}}', "missing 'property'"),
        (f'{{"format": "{spec_files.FORMAT}", "property": "p", "pod": {{"x": 1}}}}', "x"),
        ("{", "not JSON"),
    ],
)
def test_a_broken_file_is_refused_naming_the_file(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(SpecFileError, match=complaint) as raised:
        spec_files.load(path)
    assert str(path) in str(raised.value)
