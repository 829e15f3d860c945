"""The feature registry: every behaviour the matrix has a row for.

One YAML file per area (``runtime.yaml``, ``pod.yaml``, ...) maps feature ids to a title,
a shape (single or multi container pods) and the CRI calls the behaviour rests on. A marker
or a profile that names an id missing here is an error, so the matrix never has a row nobody
described.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

REGISTRY_DIR = Path(__file__).parent
SHAPES = ("single", "multi")


class FeatureRegistryError(Exception):
    """A registry file that does not follow the format; the message names file and feature."""


@dataclass(frozen=True)
class Feature:
    id: str
    area: str
    shape: str
    title: str
    calls: tuple[str, ...]


def _feature(path: Path, area: str, feature_id: str, entry: object) -> Feature:
    where = f"{path.name}: {feature_id}"
    if not isinstance(entry, dict):
        raise FeatureRegistryError(f"{where}: expected a mapping with title, shape and calls")
    unknown = set(entry) - {"title", "shape", "calls"}
    if unknown:
        raise FeatureRegistryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    title, shape, calls = entry.get("title"), entry.get("shape"), entry.get("calls")
    if not isinstance(title, str) or not title:
        raise FeatureRegistryError(f"{where}: 'title' must be a non-empty string")
    if shape not in SHAPES:
        raise FeatureRegistryError(f"{where}: 'shape' must be one of {', '.join(SHAPES)}")
    if not isinstance(calls, list) or not calls or not all(isinstance(c, str) for c in calls):
        raise FeatureRegistryError(f"{where}: 'calls' must list the CRI RPCs involved")
    return Feature(feature_id, area, str(shape), title, tuple(calls))


def load_area(path: Path) -> list[Feature]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("features"), dict):
        raise FeatureRegistryError(f"{path.name}: expected 'area' and a 'features' mapping")
    area = data.get("area")
    if area != path.stem:
        raise FeatureRegistryError(f"{path.name}: 'area' must be {path.stem!r}, the file's name")
    return [_feature(path, area, fid, entry) for fid, entry in data["features"].items()]


@cache
def registry(directory: Path = REGISTRY_DIR) -> dict[str, Feature]:
    """Every feature by id, areas in file-name order."""
    features: dict[str, Feature] = {}
    for path in sorted(directory.glob("*.yaml")):
        for feature in load_area(path):
            if feature.id in features:
                raise FeatureRegistryError(f"{path.name}: {feature.id} is in another file too")
            features[feature.id] = feature
    return features
