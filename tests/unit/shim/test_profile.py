"""The shim's declared limitations name only features the registry knows."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.features import registry

PROFILE = Path(__file__).parents[3] / "fixtures" / "profiles" / "reference-shim-reject.yaml"


def test_the_reject_profile_names_known_features_each_with_a_reason() -> None:
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["name"] == "reference-shim-reject"
    assert profile["description"]
    known = set(registry())
    for feature_id, reason in profile["unsupported"].items():
        assert feature_id in known, f"{feature_id} is not in harness/features"
        assert isinstance(reason, str)
        assert len(reason) > 10
