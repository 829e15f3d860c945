"""The shim's declared limitations, one profile per strategy, name only features the registry
knows, each with a reason; reject declares only what needs two live containers in a pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.features import registry
from reference_shim.strategies import STRATEGIES

PROFILES = Path(__file__).parents[3] / "fixtures" / "profiles"


def profile(strategy: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (PROFILES / f"reference-shim-{strategy}.yaml").read_text()
    )
    return loaded


def declared_entries(strategy: str) -> dict[str, dict[str, str]]:
    """Both sections of a profile: feature id -> {reason, expect}."""
    loaded = profile(strategy)
    return {**(loaded.get("unsupported") or {}), **(loaded.get("deviations") or {})}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_profile_names_known_features_each_with_a_reason(strategy: str) -> None:
    declared = profile(strategy)
    assert declared["name"] == f"reference-shim-{strategy}"
    assert f"strategy {strategy}" in " ".join(declared["description"].split())
    known = set(registry())
    for feature_id, entry in declared_entries(strategy).items():
        assert feature_id in known, f"{feature_id} is not in harness/features"
        assert len(entry["reason"]) > 10


def test_reject_declares_only_features_that_need_two_live_containers() -> None:
    """Reject runs a pod's containers one after another (init containers), so it declares no
    feature of such pods, and each multi-container entry gives the one-live-container reason."""
    declared = declared_entries("reject")
    assert "multi.lifecycle.init-sequence" not in declared
    multi = [feature for feature in declared if registry()[feature].shape == "multi"]
    assert multi, "reject declares no multi-container feature"
    for feature in multi:
        reason = " ".join(declared[feature]["reason"].split())
        assert "one live container per pod" in reason, feature


def test_the_other_strategies_declare_no_lifecycle_or_volume_limit() -> None:
    for strategy in ("shared-vm", "separate-vms"):
        declared = set(declared_entries(strategy))
        assert not {f for f in declared if f.startswith(("multi.lifecycle.", "multi.volumes."))}
