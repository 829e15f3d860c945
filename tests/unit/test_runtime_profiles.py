"""The shipped runtime profiles: known features, sorted, each with its rule and expected failure."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.matrix.profiles import SECTIONS, load_profile

PROFILES = sorted((Path(__file__).parents[2] / "fixtures" / "profiles").glob("*.yaml"))


@pytest.mark.parametrize("path", PROFILES, ids=[path.stem for path in PROFILES])
def test_a_profile_declares_known_features_sorted_each_with_the_rule_it_breaks(
    path: Path,
) -> None:
    profile = load_profile(str(path))  # known ids, each in the section its level asks for
    assert profile.name == path.stem
    data = yaml.safe_load(path.read_text())
    for section in SECTIONS:
        declared = list(data.get(section) or {})
        assert declared == sorted(declared), f"keep the {section} sorted by feature id"
    for declaration in profile.declarations.values():
        assert len(declaration.reason) > 20, f"{declaration.feature}: say which rule, and how"
        assert "TODO" not in declaration.expect.pattern
