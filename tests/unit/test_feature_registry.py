"""The feature registry: the shipped files load, and a malformed entry is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.features import FeatureRegistryError, load_area, registry


def test_the_shipped_registry_loads_with_areas_from_file_names() -> None:
    features = registry()
    assert features["pod.lifecycle"].area == "pod"
    assert features["pod.lifecycle"].shape == "single"
    assert "RunPodSandbox" in features["pod.lifecycle"].calls


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ("{shape: single, calls: [Version]}", "'title'"),
        ("{title: t, shape: triple, calls: [Version]}", "'shape'"),
        ("{title: t, shape: single, calls: []}", "'calls'"),
        ("{title: t, shape: single, calls: [Version], colour: red}", "unknown key"),
    ],
)
def test_a_malformed_entry_is_refused_naming_the_file_and_feature(
    tmp_path: Path, entry: str, complaint: str
) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(f"area: pod\nfeatures:\n  pod.x: {entry}\n")
    with pytest.raises(FeatureRegistryError, match=complaint) as raised:
        load_area(path)
    assert "pod.yaml: pod.x" in str(raised.value)


def test_the_area_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text("area: container\nfeatures: {}\n")
    with pytest.raises(FeatureRegistryError, match="file's name"):
        load_area(path)
