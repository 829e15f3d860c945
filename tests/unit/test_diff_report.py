"""Known differences, and the report a diff writes (JSON, Markdown, HTML, spec files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.builders import container_config, pod_config
from harness.cli import main
from harness.diff.compare import FieldDifference
from harness.diff.driver import Finding, Outcome
from harness.diff.entries import EntriesError
from harness.diff.known import classify, known_file, load_known
from harness.diff.normalise import BUILTIN
from harness.diff.pair import Example
from harness.diff.report import RunInfo, document, new_findings, write
from harness.matrix.runner import Target
from harness.package_data import fixtures_dir
from harness.properties.spec_files import Spec, load, save

RUN = "20260101-000000-abcdef"


def test_a_known_entry_accepts_its_field_and_only_the_values_it_names(tmp_path: Path) -> None:
    path = tmp_path / "known.yaml"
    path.write_text(
        "differences:\n"
        "  - field: container.*.status.image_id\n"
        "    reason: containerd 1.6 predates the field\n"
        "    a: ^null$\n"
    )
    (entry,) = load_known(str(path))
    older = FieldDifference("container.1.status.image_id", None, "sha256:00")
    other = FieldDifference("container.1.status.image_id", "sha256:01", "sha256:00")
    elsewhere = FieldDifference("pod.status.id", None, "x")
    known, new, unrelated = classify([older, other, elsewhere], [entry])
    assert known.known == entry
    assert not known.is_new
    assert new.is_new
    assert unrelated.is_new


def test_known_files_are_found_by_name_in_fixtures_or_by_path(tmp_path: Path) -> None:
    shipped = sorted((fixtures_dir() / "diff").glob("*.yaml"))
    assert shipped, "the project ships known-differences files"
    for path in shipped:
        assert known_file(path.stem) == path
        assert all(entry.reason for entry in load_known(path.stem))
    with pytest.raises(EntriesError, match="no such file, nor a name of fixtures/diff"):
        known_file(str(tmp_path / "missing.yaml"))


def _example() -> Example:
    spec = Spec(
        "diff",
        pod_config("web", run_id=RUN),
        (container_config("c", "busybox", run_id=RUN),),
        params={"areas": "dns,lifecycle"},
    )
    hosts = "container.0.inside.hosts"
    a = {"container.0.inside.hostname": "web", hosts: ["127.0.0.1 h|x"]}
    b = {"container.0.inside.hostname": "web", hosts: ["<pod-ip>\tweb"]}
    return Example(spec, a, b, classify([FieldDifference(hosts, a[hosts], b[hosts])], []))


def _info() -> RunInfo:
    return RunInfo(
        RUN, 7, 10, frozenset({"dns", "lifecycle"}), 30,
        Target("containerd", "unix:///c.sock"), Target("shim", "embedded:shared-vm"),
        {"containerd": "containerd 1.6.20", "shim": "cri-conformance-shim 0.1.0"},
        BUILTIN, (), ("containerd-1.6-vs-reference-shim",), 12.34,
        ("shim: leftover pod web (abc) made by x: removed",),
    )  # fmt: skip


def test_the_report_gives_each_finding_its_spec_replay_and_both_observations(
    tmp_path: Path,
) -> None:
    example = _example()
    outcome = Outcome(
        10,
        [
            Finding("container.*.inside.hosts", None, 4, example, shrunk=True),
            Finding("container.*.status.image_id", "newer field", 10, example),
        ],
        runs=17,
    )
    data = document(_info(), outcome, tmp_path)
    assert new_findings(data) == 1
    first, second = data["findings"]
    assert (first["id"], first["status"], first["area"], first["examples"]) == (
        "d1", "new", "dns", 4,
    )  # fmt: skip
    assert second["status"] == "known"
    assert second["reason"] == "newer field"
    saved = load(tmp_path / first["spec_file"])
    assert saved.pod == example.spec.pod
    assert saved.params == {"areas": "dns,lifecycle"}
    assert first["replay"] == (
        f"cri-conformance replay --diff {tmp_path / first['spec_file']} "
        "--a containerd=unix:///c.sock --b shim=embedded:shared-vm "
        "--known containerd-1.6-vs-reference-shim"
    )
    assert first["observations"]["b"]["container.0.inside.hosts"] == ["<pod-ip>\tweb"]

    json_file, markdown, html = write(data, tmp_path)
    assert json.loads(json_file.read_text())["format"] == "cri-conformance/diff/v1"
    text = markdown.read_text()
    assert "| d1 | `container.*.inside.hosts` | new | 4 |" in text
    assert "| ≠ | `container.0.inside.hosts` | 127.0.0.1 h\\|x | <pod-ip>\tweb |" in text
    assert "|  | `container.0.inside.hostname` | web | web |" in text
    assert "leftover pod web" in text
    page = html.read_text()
    assert page.count('<tr class="differs">') == 2  # the one differing field in each finding
    assert '<tr class="differs"><th><code>≠ container.0.inside.hosts</code>' in page
    assert "&lt;pod-ip&gt;" in page  # values are escaped
    for outside in ("<script", "<link", "http://", "https://"):
        assert outside not in page


def test_a_diff_spec_replayed_without_diff_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = save(_example().spec, tmp_path / "d1.json")
    assert main(["replay", str(path), "--cri-endpoint", "unix:///nonexistent.sock"]) == 2
    assert "replay it with --diff --a NAME=ENDPOINT --b NAME=ENDPOINT" in capsys.readouterr().err
