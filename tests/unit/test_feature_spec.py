"""A feature's ``spec``: citations parse, a malformed one is named, quotes are checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.features import REGISTRY_DIR, FeatureRegistryError, Level, load_area, registry
from harness.features.spec import PROTO_LINES, Citation, parse, unquoted

PROTO = """\
service RuntimeService {
    // RunPodSandbox creates and starts a pod-level sandbox. Runtimes must ensure
    // the sandbox is in the ready state on success.
    rpc RunPodSandbox(RunPodSandboxRequest) returns (RunPodSandboxResponse) {}
\t// A tab-indented comment, as api.proto has a few.
}
"""
COMMIT = "04791b4906602ffda5ccf9bc4c84d3329f1d7080"


def test_a_proto_citation_and_a_kubelet_citation_parse() -> None:
    proto, kubelet = parse(
        [
            {"proto": "2-3", "says": "Runtimes must ensure\n the sandbox is ready"},
            {"kubelet": "pkg/kubelet/a.go", "function": "F", "at": COMMIT, "says": "F does it"},
        ]
    )
    assert proto == Citation("Runtimes must ensure the sandbox is ready", lines=(2, 3))
    assert proto.where == "api.proto:2-3"
    assert kubelet.where == f"kubelet pkg/kubelet/a.go F (kubernetes/kubernetes@{COMMIT})"
    assert str(parse([{"proto": 7, "says": "x"}])[0]) == "api.proto:7: x"


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("[]", "must list citations"),
        ("{proto: 1, says: x}", "must list citations"),
        ("[{proto: 1}]", "'says'"),
        ("[{says: x}]", "either 'proto' lines or a 'kubelet' file"),
        ("[{proto: 1, kubelet: a/b.go, says: x}]", "either 'proto' lines or a 'kubelet' file"),
        ("[{proto: 3-2, says: x}]", "outside lines"),
        (f"[{{proto: {PROTO_LINES + 1}, says: x}}]", "outside lines"),
        ("[{proto: L28, says: x}]", "a line or a range"),
        ("[{proto: 1, function: F, says: x}]", "belong to a 'kubelet' citation"),
        ("[{kubelet: logs.go, function: F, at: " + COMMIT + ", says: x}]", "Go file's path"),
        ("[{kubelet: pkg/a.go, at: " + COMMIT + ", says: x}]", "'function'"),
        ("[{kubelet: pkg/a.go, function: F, at: v1.30, says: x}]", "commit"),
        ("[{proto: 1, says: x, page: 2}]", "unknown key"),
    ],
)
def test_a_malformed_spec_is_refused_naming_the_file_and_feature(
    tmp_path: Path, spec: str, complaint: str
) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(
        "area: pod\nfeatures:\n  pod.x: {title: t, shape: single, level: required, basis: b, "
        f"calls: [V], spec: {spec}}}\n"
    )
    with pytest.raises(FeatureRegistryError, match=complaint) as raised:
        load_area(path)
    assert "pod.yaml: pod.x" in str(raised.value)


def test_a_quote_is_found_in_its_lines_only() -> None:
    ready = "Runtimes must ensure the sandbox is in the ready state on success."
    assert not unquoted(Citation(ready, lines=(2, 3)), PROTO)
    assert unquoted(Citation(ready, lines=(3, 4)), PROTO), "the quote starts on line 2"
    assert not unquoted(Citation("A tab-indented comment", lines=(5, 5)), PROTO)
    kubelet = Citation("anything", kubelet="pkg/a.go", function="F", at=COMMIT)
    assert not unquoted(kubelet, PROTO), "kubelet citations are checked by hand"


def test_verify_spec_names_every_citation_a_wrong_copy_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "api.proto"
    empty.write_text("\n" * PROTO_LINES)
    assert main(["features", "--verify-spec", str(empty)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("pod.lifecycle: api.proto:28-29 does not say") for line in out)
    assert out[-1].startswith("0 of ")


def test_the_required_features_the_proto_states_cite_it() -> None:
    """The rules the verdict rests on are the ones a reader most needs to check."""
    features = registry()
    for feature_id in ("pod.lifecycle", "idempotence.stop-pod-twice", "container.logs.format"):
        assert features[feature_id].spec, feature_id
    required = [f for f in features.values() if f.level is Level.REQUIRED]
    cited = [f for f in required if f.spec]
    assert len(cited) / len(required) > 0.85


def test_every_shared_citation_is_used() -> None:
    """A ``specs`` anchor nobody refers to is a citation no feature shows."""
    assert isinstance(REGISTRY_DIR, Path)  # the package is installed as files (editable)
    for path in sorted(REGISTRY_DIR.glob("*.yaml")):
        text = path.read_text()
        for anchor in re.findall(r"&(spec-[\w-]+)", text):
            assert f"*{anchor}" in text, f"{path.name}: {anchor} is not used"
