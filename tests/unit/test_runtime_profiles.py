"""The shipped runtime profiles name only described features, in sorted order, with a rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.features import registry

PROFILES = sorted((Path(__file__).parents[2] / "fixtures" / "profiles").glob("*.yaml"))


@pytest.mark.parametrize("path", PROFILES, ids=[path.stem for path in PROFILES])
def test_a_profile_declares_known_features_sorted_each_with_the_rule_it_breaks(
    path: Path,
) -> None:
    profile = yaml.safe_load(path.read_text())
    assert profile["name"] == path.stem
    declared = list(profile.get("unsupported") or {})
    assert set(declared) <= set(registry()), f"unknown ids: {set(declared) - set(registry())}"
    assert declared == sorted(declared), "keep the entries sorted by feature id"
    assert all(isinstance(rule, str) and rule for rule in profile["unsupported"].values())
