"""Runtime profiles: a good one loads; a bad one is refused naming the file and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.matrix.profiles import (
    ProfileError,
    available,
    check_runtime,
    load_profile,
    resolve,
    version_matches,
)

GOOD = """\
name: example
description: an example runtime
runtime_name: containerd
runtime_version: "1.6"
unsupported:
  runtime.status.verbose:
    reason: verbose info is not returned
    expect: info is empty
deviations:
  runtime.version.semver:
    reason: the version has a Debian suffix
    expect: '~ds1'
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return str(path)


def test_the_shipped_containerd_profile_loads_by_name() -> None:
    profile = load_profile("containerd-1.6")
    assert profile.name == "containerd-1.6"
    assert profile.runtime_name == "containerd"
    assert resolve("containerd-1.6").name == "containerd-1.6.yaml"


@pytest.mark.parametrize("name", available())
def test_every_shipped_profile_is_valid(name: str) -> None:
    assert load_profile(name).name == name


def test_a_profile_file_loads_with_its_declarations(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD))
    verbose = profile.declared("runtime.status.verbose")
    assert verbose is not None
    assert (verbose.reason, verbose.deviation) == ("verbose info is not returned", False)
    assert verbose.matches("AssertionError: info is empty\nassert {} != {}")
    assert not verbose.matches("Status failed with UNAVAILABLE: down")
    semver = profile.declared("runtime.version.semver")
    assert semver is not None
    assert semver.deviation
    assert profile.declared("runtime.version") is None
    assert profile.runtime_version == "1.6"


@pytest.mark.parametrize(
    ("text", "line", "complaint"),
    [
        (GOOD.replace("description", "describe"), 2, "'describe' was unexpected"),
        (GOOD.replace("name: example", "name: [example]"), 1, "is not of type 'string'"),
        (GOOD.replace("runtime.status.verbose", "Runtime Verbose"), 6, "does not match"),
        (GOOD + "  Bad Id: {reason: r, expect: e}\n", 13, "'Bad Id' does not match"),
        (GOOD.replace("verbose info is not returned", "''"), 7, "should be non-empty"),
        (GOOD.replace("    expect: info is empty\n", ""), 7, "'expect' is a required property"),
        (GOOD.replace("info is empty", "(?s).*"), 8, "matches any failure"),
        (GOOD.replace("info is empty", "info ("), 8, "not a regular expression"),
        (GOOD.replace("runtime.status.verbose:", "runtime.status.verbose: why"), 7, "not valid"),
        (GOOD.replace("runtime.status.verbose", "runtime.no-such"), 6, "unknown feature"),
        (GOOD.replace("runtime.status.verbose", "runtime.version"), 6, "declare it under 'dev"),
        (GOOD.replace("runtime.version.semver", "runtime.config.cgroup-driver"), 10, "optional"),
        (GOOD.replace('"1.6"', '"one.six"'), 4, "does not match"),
        ("name: x\n  description: y\n", 2, "not valid YAML"),
        ("", 1, "empty profile"),
    ],
)
def test_a_bad_profile_names_file_and_line(
    tmp_path: Path, text: str, line: int, complaint: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    lines = str(raised.value).splitlines()
    assert any(
        text.startswith(f"{path}:{line}: ") and re.search(complaint, text) for text in lines
    ), raised.value


def test_an_unknown_feature_names_the_registry_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"harness/features/pod\.yaml"):
        load_profile(write(tmp_path, GOOD.replace("runtime.status.verbose", "pod.nope")))


def test_a_missing_profile_lists_the_available_names() -> None:
    with pytest.raises(ProfileError, match=r"not found .* one of: .*containerd-1\.6"):
        load_profile("no-such-runtime")


def version(name: str, number: str) -> api.VersionResponse:
    return api.VersionResponse(runtime_name=name, runtime_version=number)


def test_a_profile_for_another_runtime_or_version_is_refused(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD))
    check_runtime(profile, version("containerd", "1.6.20~ds1"), "unix:///c.sock")
    with pytest.raises(ProfileError, match=r"is for containerd, but unix:///c\.sock runs cri-o"):
        check_runtime(profile, version("cri-o", "1.6.0"), "unix:///c.sock")
    with pytest.raises(ProfileError, match=r"is for version 1\.6, but .* runs containerd 1\.7\.2"):
        check_runtime(profile, version("containerd", "1.7.2"), "unix:///c.sock")


@pytest.mark.parametrize(
    ("prefix", "runtime_version", "matches"),
    [
        ("1.6", "1.6.20~ds1", True),
        ("1.6", "v1.6.0", True),
        ("v1.6", "1.6", True),
        ("1.6", "1.60.1", False),
        ("1.6", "1.7.0", False),
    ],
)
def test_version_prefixes_match_on_dot_boundaries(
    prefix: str, runtime_version: str, matches: bool
) -> None:
    assert version_matches(prefix, runtime_version) is matches


def test_not_run_entries_name_known_features_and_hold_on_their_handlers(tmp_path: Path) -> None:
    text = GOOD + "not_run:\n  pod.lifecycle:\n    reason: panics\n    handlers: [crun]\n"
    profile = load_profile(write(tmp_path, text))
    assert [entry.feature for entry in profile.not_run_on("crun")] == ["pod.lifecycle"]
    assert profile.not_run_on("") == []
    everywhere = load_profile(write(tmp_path, GOOD + "not_run:\n  pod.lifecycle:\n    reason: x\n"))
    assert [entry.feature for entry in everywhere.not_run_on("runc")] == ["pod.lifecycle"]
    with pytest.raises(ProfileError, match=r"unknown feature 'pod.nope'"):
        load_profile(write(tmp_path, text.replace("pod.lifecycle", "pod.nope")))
