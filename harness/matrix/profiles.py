"""Runtime profiles: what a runtime declares it does not do, why, and how it fails.

A profile is a YAML file in ``fixtures/profiles/`` (``--cri-runtime-profile NAME``) or anywhere
(``--cri-runtime-profile PATH``). It is validated against ``profile.schema.json``, and every error
names the file and line, because the people editing profiles are reading a review diff, not
a traceback. Feature ids must be in the registry.

Entries go in one of two sections, by the feature's level: ``unsupported`` for optional
features, ``deviations`` for required ones; a feature in the wrong section is refused. Every
entry carries ``expect``, a regular expression the failure must match: a declared feature that
fails some other way is a failure, so a declaration cannot hide a new bug in the same feature.
An entry marked ``intermittent`` is a race in the runtime: it fails only some of the time, so a
pass is recorded as a pass, not as an out-of-date declaration (xpass).

A third section, ``not_run``, names features whose test takes the runtime down (a crash of the
daemon would fail every test after it, and every run sharing that daemon). Their tests are not
run, on the runtime handlers the entry names (all when it names none); the run says so, and the
verdict counts them as not run, never as a pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from cri_api.v1 import api_pb2 as cri

from harness import yaml_text
from harness.features import Feature, FeatureRegistryError, Level, registry
from harness.package_data import fixtures_dir

SCHEMA = resources.files("harness.matrix") / "profile.schema.json"
SECTIONS = {"unsupported": Level.OPTIONAL, "deviations": Level.REQUIRED}


class ProfileError(Exception):
    """A profile that cannot be used; the message names file and line, or the mismatch."""


@dataclass(frozen=True)
class Declaration:
    """One entry: the feature, why the runtime does not do it, and the failure to expect."""

    feature: str
    reason: str
    expect: re.Pattern[str]
    deviation: bool
    intermittent: bool = False  # a race in the runtime: a pass is no xpass

    def matches(self, failure: str) -> bool:
        return self.expect.search(failure) is not None


@dataclass(frozen=True)
class NotRun:
    """A feature whose test would crash the runtime, on ``handlers`` (empty: on every one)."""

    feature: str
    reason: str
    handlers: tuple[str, ...] = ()

    def applies_to(self, handler: str) -> bool:
        return not self.handlers or handler in self.handlers


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    path: Path
    declarations: dict[str, Declaration] = field(default_factory=dict)
    not_run: dict[str, NotRun] = field(default_factory=dict)
    runtime_name: str | None = None
    runtime_version: str | None = None

    def declared(self, feature_id: str) -> Declaration | None:
        return self.declarations.get(feature_id)

    def not_run_on(self, handler: str) -> list[NotRun]:
        """The entries of ``not_run`` that hold for runs on runtime handler ``handler``."""
        return [entry for entry in self.not_run.values() if entry.applies_to(handler)]


def profiles_dir() -> Path:
    return fixtures_dir() / "profiles"


def available() -> list[str]:
    return sorted(path.stem for path in profiles_dir().glob("*.yaml"))


def resolve(spec: str) -> Path:
    """NAME -> fixtures/profiles/NAME.yaml; anything path-like is taken as a path."""
    looks_like_path = "/" in spec or spec.endswith((".yaml", ".yml"))
    path = Path(spec) if looks_like_path else profiles_dir() / f"{spec}.yaml"
    if not path.is_file():
        names = ", ".join(available()) or "none"
        raise ProfileError(
            f"runtime profile {spec!r} not found ({path}); give a file path or one of: {names}"
        )
    return path


def load_profile(spec: str) -> Profile:
    path = resolve(spec)
    text = path.read_text()
    try:
        root = yaml_text.compose(text)
        data = yaml_text.load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise ProfileError(f"{path}:{line}: not valid YAML: {error.problem}") from None
    if root is None:
        raise ProfileError(f"{path}:1: empty profile; expected name, description and entries")
    _refuse_duplicate_keys(path, root)
    _validate(path, root, data)
    return Profile(
        name=data["name"],
        description=data["description"],
        path=path,
        declarations=_declarations(path, root, data),
        not_run=_not_run(path, root, data),
        runtime_name=data.get("runtime_name"),
        runtime_version=data.get("runtime_version"),
    )


def check_runtime(profile: Profile, version: cri.VersionResponse, endpoint: str) -> None:
    """A profile that names its runtime must not be applied to another one."""
    runs = f"{endpoint} runs {version.runtime_name} {version.runtime_version}"
    if profile.runtime_name and profile.runtime_name != version.runtime_name:
        raise ProfileError(
            f"runtime profile {profile.name} is for {profile.runtime_name}, but {runs}; "
            "choose the profile of that runtime"
        )
    if profile.runtime_version and not version_matches(
        profile.runtime_version, version.runtime_version
    ):
        raise ProfileError(
            f"runtime profile {profile.name} is for version {profile.runtime_version}, but {runs}; "
            "choose the profile of that version"
        )


def version_matches(prefix: str, version: str) -> bool:
    """``1.6`` matches ``1.6.20~ds1`` and ``v1.6.0``, not ``1.60`` or ``1.7.1``."""
    want, have = prefix.removeprefix("v"), version.removeprefix("v")
    return have.startswith(want) and not re.match(r"[0-9]", have[len(want) :])


# -- validation with line numbers ---------------------------------------------------------


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text())
    return schema


def _validate(path: Path, root: yaml.Node, data: object) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    problems = sorted(
        (_line_of_error(root, error), _where(error), error.message)
        for error in validator.iter_errors(data)
    )
    if problems:
        raise ProfileError(
            "\n".join(f"{path}:{line}: {where}: {message}" for line, where, message in problems)
        )


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(step) for step in error.absolute_path) or "the top level"


def _features() -> dict[str, Feature]:
    try:
        return registry()
    except FeatureRegistryError as error:
        raise ProfileError(f"feature registry: {error}") from None


def _unknown(path: Path, line: int, feature_id: str) -> ProfileError:
    area = feature_id.split(".", 1)[0]
    return ProfileError(
        f"{path}:{line}: unknown feature {feature_id!r}: "
        f"use an id from harness/features/{area}.yaml"
    )


def _not_run(path: Path, root: yaml.Node, data: dict[str, Any]) -> dict[str, NotRun]:
    features = _features()
    entries: dict[str, NotRun] = {}
    for feature_id, entry in (data.get("not_run") or {}).items():
        if feature_id not in features:
            raise _unknown(path, _line_of(root, ["not_run"], key=feature_id), feature_id)
        reason = " ".join(entry["reason"].split())
        entries[feature_id] = NotRun(feature_id, reason, tuple(entry.get("handlers", ())))
    return entries


def _declarations(path: Path, root: yaml.Node, data: dict[str, Any]) -> dict[str, Declaration]:
    """Every entry of both sections, each in the section its feature's level asks for."""
    features = _features()
    declarations: dict[str, Declaration] = {}
    for section, level in SECTIONS.items():
        for feature_id, entry in (data.get(section) or {}).items():
            line = _line_of(root, [section], key=feature_id)
            feature = features.get(feature_id)
            if feature is None:
                raise _unknown(path, line, feature_id)
            if feature.level is not level:
                right = next(name for name, want in SECTIONS.items() if want is feature.level)
                raise ProfileError(
                    f"{path}:{line}: {feature_id} is {feature.level.value}: declare it under "
                    f"{right!r}, not {section!r}"
                )
            try:
                expect = re.compile(entry["expect"])
            except re.error as error:
                where = _line_of(root, [section, feature_id], key="expect")
                raise ProfileError(
                    f"{path}:{where}: {feature_id}: expect is not a regular expression: {error}"
                ) from None
            if expect.search(""):
                where = _line_of(root, [section, feature_id], key="expect")
                raise ProfileError(
                    f"{path}:{where}: {feature_id}: expect /{expect.pattern}/ matches any failure; "
                    "give the call, code or message the failure must show"
                )
            declarations[feature_id] = Declaration(
                feature_id,
                " ".join(entry["reason"].split()),
                expect,
                level is Level.REQUIRED,
                bool(entry.get("intermittent", False)),
            )
    return declarations


def _refuse_duplicate_keys(path: Path, node: yaml.Node) -> None:
    """PyYAML keeps the last of two equal keys silently; a profile must not."""
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key, value in node.value:
            if key.value in seen:
                raise ProfileError(f"{path}:{key.start_mark.line + 1}: {key.value} appears twice")
            seen.add(key.value)
            _refuse_duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(path, item)


def _line_of_error(root: yaml.Node, error: jsonschema.ValidationError) -> int:
    """The line of the value at fault; for a bad or extra key, the key's own line."""
    key: str | None = None
    if "propertyNames" in error.schema_path:  # the instance is the key itself
        key = str(error.instance)
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [name for name in error.instance if name not in allowed]
        key = str(extra[0]) if extra else None
    return _line_of(root, list(error.absolute_path), key)


def _line_of(root: yaml.Node, steps: Sequence[object], key: str | None = None) -> int:
    node = root
    for step in steps:
        child = _child(node, step)
        if child is None:
            break
        node = child
    if key is not None and isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if key_node.value == key:
                return int(key_node.start_mark.line) + 1
    return int(node.start_mark.line) + 1


def _child(node: yaml.Node, step: object) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if key_node.value == step:
                child: yaml.Node = value
                return child
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item: yaml.Node = node.value[step]
        return item
    return None
