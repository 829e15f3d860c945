"""The feature registry: every behaviour the matrix has a row for.

One YAML file per area (``runtime.yaml``, ``pod.yaml``, ...) maps feature ids to a title, a
shape (single or multi container pods), a level, the basis for that level, and the CRI calls
the behaviour rests on. A marker or a profile that names an id missing here is an error, so the
matrix never has a row nobody described.

Levels decide what a runtime's answer may excuse:

- ``required``: what the kubelet needs from every CRI v1 runtime: pod and container lifecycle,
  status, lists and their filters, ExecSync, Exec/Attach/PortForward over at least one
  protocol, logs, container stats, the image service, Version, Status, the namespaces and
  security context the kubelet sends for ordinary pods, and the api.proto idempotency rules. The
  ``basis`` cites the api.proto rule or the kubelet behaviour that makes it so. A required
  feature that fails is a failure, whatever the runtime answered; a runtime profile may declare
  it only as a *deviation*, which the verdict counts against conformance.
- ``optional``: the rest: what the API leaves to the runtime (verbose info, id prefixes),
  newer or feature-gated RPCs and fields (metrics, PodSandboxStats, RuntimeConfig,
  ContainerStatus.user), LSMs the node may lack, WebSocket v5, hardening beyond what the
  kubelet sends. The ``basis`` says why it is optional. An optional feature whose own RPC (one
  of its ``calls``) answers UNIMPLEMENTED is *unsupported*, not failed.
- ``one_of: GROUP`` on required features that are alternatives (Exec over SPDY or over
  WebSocket): the group is one requirement, met when any of its features passes; each member is
  judged like an optional feature.

A feature whose behaviour the CRI API states also has ``spec``: the api.proto lines, or the
kubelet code where the proto is silent (``harness/features/spec.py`` pins the version).

Each file keeps the basis texts under ``bases``, and citations shared by several features
under ``specs``, as YAML anchors that features refer to. Its ``suites`` say what each module of
the suite in that area covers; ``suites/README.md`` is generated from them
(``harness/suite_readme.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TypeVar

from harness import yaml_text
from harness.features.spec import Citation, SpecError, parse

# The area files ship in this package; read where it is installed.
REGISTRY_DIR = resources.files("harness.features")
SHAPES = ("single", "multi")
KEYS = {"title", "shape", "level", "one_of", "basis", "calls", "spec"}
_Named = TypeVar("_Named")


class Level(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"


class FeatureRegistryError(Exception):
    """A registry file that does not follow the format; the message names file and feature."""


@dataclass(frozen=True)
class Feature:
    id: str
    area: str
    shape: str
    title: str
    calls: tuple[str, ...]
    level: Level
    basis: str
    one_of: str | None
    spec: tuple[Citation, ...] = ()

    @property
    def excusable(self) -> bool:
        """Whether UNIMPLEMENTED from one of its calls may make it unsupported."""
        return self.level is Level.OPTIONAL or self.one_of is not None

    @property
    def requirement(self) -> str | None:
        """The requirement this feature meets in the verdict: its id, its group, or None."""
        if self.level is not Level.REQUIRED:
            return None
        return self.one_of or self.id


def _text(where: str, entry: dict[str, object], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FeatureRegistryError(f"{where}: {key!r} must be a non-empty string")
    return value


def _feature(path: Traversable, area: str, feature_id: str, entry: object) -> Feature:
    where = f"{path.name}: {feature_id}"
    if not isinstance(entry, dict):
        raise FeatureRegistryError(
            f"{where}: expected a mapping with title, shape, level, basis and calls"
        )
    unknown = set(entry) - KEYS
    if unknown:
        raise FeatureRegistryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    title, basis = _text(where, entry, "title"), _text(where, entry, "basis")
    shape, level, calls = entry.get("shape"), entry.get("level"), entry.get("calls")
    if shape not in SHAPES:
        raise FeatureRegistryError(f"{where}: 'shape' must be one of {', '.join(SHAPES)}")
    if level not in tuple(Level):
        raise FeatureRegistryError(f"{where}: 'level' must be one of {', '.join(Level)}")
    if not isinstance(calls, list) or not calls or not all(isinstance(c, str) for c in calls):
        raise FeatureRegistryError(f"{where}: 'calls' must list the CRI RPCs involved")
    one_of = entry.get("one_of")
    if one_of is not None:
        if level != Level.REQUIRED:
            raise FeatureRegistryError(f"{where}: 'one_of' groups alternatives of a required rule")
        one_of = _text(where, entry, "one_of")
    try:
        spec = parse(entry["spec"]) if "spec" in entry else ()
    except SpecError as error:
        raise FeatureRegistryError(f"{where}: {error}") from None
    return Feature(
        feature_id,
        area,
        str(shape),
        title,
        tuple(calls),
        Level(level),
        " ".join(basis.split()),
        one_of,
        spec,
    )


@dataclass(frozen=True)
class SuiteModule:
    """A module of the suite, the area whose file describes it, and what it covers."""

    name: str
    area: str
    covers: str


def _area_data(path: Traversable) -> tuple[str, dict[str, object]]:
    data = yaml_text.load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("features"), dict):
        raise FeatureRegistryError(f"{path.name}: expected 'area' and a 'features' mapping")
    area, stem = data.get("area"), path.name.removesuffix(".yaml")
    if area != stem:
        raise FeatureRegistryError(f"{path.name}: 'area' must be {stem!r}, the file's name")
    return stem, data


def load_area(path: Traversable) -> list[Feature]:
    area, data = _area_data(path)
    features = data["features"]
    assert isinstance(features, dict)  # _area_data checked it
    return [_feature(path, area, fid, entry) for fid, entry in features.items()]


def load_suites(path: Traversable) -> list[SuiteModule]:
    """The ``suites`` of an area file: ``test_*.py`` names, each with what it covers."""
    area, data = _area_data(path)
    suites = data.get("suites", {})
    if not isinstance(suites, dict):
        raise FeatureRegistryError(f"{path.name}: 'suites' must map module names to text")
    modules = []
    for name in suites:
        where = f"{path.name}: suites: {name}"
        if not (isinstance(name, str) and name.startswith("test_") and name.endswith(".py")):
            raise FeatureRegistryError(f"{where}: a module name is test_*.py")
        modules.append(SuiteModule(name, area, " ".join(_text(where, suites, name).split())))
    return modules


def _area_files(directory: Traversable) -> list[Traversable]:
    areas = [path for path in directory.iterdir() if path.name.endswith(".yaml")]
    return sorted(areas, key=lambda area: area.name)


def _across_areas(
    directory: Traversable,
    load: Callable[[Traversable], list[_Named]],
    name: Callable[[_Named], str],
) -> dict[str, _Named]:
    """What ``load`` reads from each area file, by name, areas in file-name order.

    A name in two files is an error: a feature or module belongs to one area.
    """
    found: dict[str, _Named] = {}
    for path in _area_files(directory):
        for item in load(path):
            if (key := name(item)) in found:
                raise FeatureRegistryError(f"{path.name}: {key} is in another file too")
            found[key] = item
    return found


def suite_modules(directory: Traversable = REGISTRY_DIR) -> list[SuiteModule]:
    """Every module the area files describe, areas in file-name order."""
    return list(_across_areas(directory, load_suites, lambda module: module.name).values())


@cache
def registry(directory: Traversable = REGISTRY_DIR) -> dict[str, Feature]:
    """Every feature by id, areas in file-name order."""
    features = _across_areas(directory, load_area, lambda feature: feature.id)
    groups = {f.one_of for f in features.values() if f.one_of}
    clash = groups & set(features)
    if clash:
        raise FeatureRegistryError(f"one_of group(s) named like a feature: {', '.join(clash)}")
    return features


def requirements(features: dict[str, Feature]) -> set[str]:
    """The required set: required features without a group, and each group once."""
    return {req for feature in features.values() if (req := feature.requirement)}
