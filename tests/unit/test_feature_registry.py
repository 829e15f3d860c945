"""The feature registry: the shipped files load, and a malformed entry is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.features import (
    FeatureRegistryError,
    Level,
    load_area,
    load_suites,
    registry,
    requirements,
    suite_modules,
)


def test_the_shipped_registry_loads_with_areas_from_file_names() -> None:
    features = registry()
    assert features["pod.lifecycle"].area == "pod"
    assert features["pod.lifecycle"].shape == "single"
    assert "RunPodSandbox" in features["pod.lifecycle"].calls


def test_every_feature_has_a_level_and_the_basis_for_it() -> None:
    for feature in registry().values():
        assert feature.level in (Level.REQUIRED, Level.OPTIONAL)
        assert len(feature.basis) > 30, f"{feature.id}: cite the rule or say why optional"


def test_alternatives_count_once_in_the_required_set() -> None:
    features = registry()
    spdy, websocket = features["streaming.exec.spdy"], features["streaming.exec.websocket"]
    assert spdy.one_of == websocket.one_of == "streaming.exec"
    assert spdy.excusable, "one alternative may be refused while another passes"
    assert not features["pod.lifecycle"].excusable
    assert features["pod.metrics.cpu"].excusable
    required = requirements(features)
    assert "streaming.exec" in required
    assert "streaming.exec.spdy" not in required
    assert "pod.metrics.cpu" not in required
    assert "pod.lifecycle" in required


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ("{shape: single, level: required, basis: b, calls: [Version]}", "'title'"),
        ("{title: t, shape: triple, level: required, basis: b, calls: [Version]}", "'shape'"),
        ("{title: t, shape: single, level: required, basis: b, calls: []}", "'calls'"),
        ("{title: t, shape: single, level: maybe, basis: b, calls: [Version]}", "'level'"),
        ("{title: t, shape: single, level: required, calls: [Version]}", "'basis'"),
        ("{title: t, shape: single, level: optional, basis: b, one_of: g, calls: [V]}", "one_of"),
        (
            "{title: t, shape: single, level: required, basis: b, calls: [V], colour: red}",
            "unknown",
        ),
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


@pytest.mark.parametrize(
    ("suites", "complaint"),
    [
        ("[test_pod.py]", "must map module names"),
        ("{pod.py: x}", "test_\\*.py"),
        ("{test_a.py: ''}", "non-empty"),
    ],
)
def test_a_malformed_suites_entry_is_refused(tmp_path: Path, suites: str, complaint: str) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(f"area: pod\nsuites: {suites}\nfeatures: {{}}\n")
    with pytest.raises(FeatureRegistryError, match=complaint):
        load_suites(path)


def test_each_suite_module_is_described_once_with_its_area() -> None:
    modules = {module.name: module for module in suite_modules()}
    assert modules["test_pod_list.py"].area == "pod"
    assert modules["test_pod_list.py"].covers.startswith("list entries, all states")
