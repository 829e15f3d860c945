"""Observations as fields, their normalisation, and their comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri

from harness.diff.compare import FieldDifference, compare
from harness.diff.entries import EntriesError
from harness.diff.normalise import BUILTIN, SET, load_rules, normalise, substitution
from harness.diff.observation import ContainerObservation, Observation, message_fields, signature

POD_ID = "f1b14ba2bf3c816bc9f5da93e103b416cc4484d0002756e1ddce9d32c3d5a390"


def test_a_status_message_flattens_to_fixed_paths_with_maps_and_lists_whole() -> None:
    status = cri.ContainerStatus(
        id="abc",
        state=cri.CONTAINER_RUNNING,
        created_at=1796563315238099048,
        labels={"any/generated.key": "v"},
        mounts=[cri.Mount(container_path="/mnt/x", host_path="/h/x")],
        image=cri.ImageSpec(image="busybox"),
        user=cri.ContainerUser(linux=cri.LinuxContainerUser(uid=0, gid=5)),
    )
    fields = message_fields(status)
    assert fields["state"] == "CONTAINER_RUNNING"
    assert fields["created_at"] == "1796563315238099048"
    assert fields["labels"] == {"any/generated.key": "v"}  # one field, whatever its keys
    assert fields["mounts"] == [{"container_path": "/mnt/x", "host_path": "/h/x"}]
    assert fields["image.image"] == "busybox"
    assert fields["user.linux.gid"] == "5"
    assert "exit_code" not in fields  # unset, as in protobuf's JSON


def test_observation_fields_are_named_by_part_and_container_number() -> None:
    observation = Observation(
        steps={"RunPodSandbox": "OK"},
        pod={"state": "SANDBOX_READY"},
        containers=[
            ContainerObservation(steps={"CreateContainer": "OK"}),
            ContainerObservation(
                steps={"CreateContainer": "INVALID_ARGUMENT"}, inside={"hostname": "h"}
            ),
        ],
    )
    assert observation.fields() == {
        "steps.RunPodSandbox": "OK",
        "pod.status.state": "SANDBOX_READY",
        "container.0.steps.CreateContainer": "OK",
        "container.1.steps.CreateContainer": "INVALID_ARGUMENT",
        "container.1.inside.hostname": "h",
    }
    assert signature("container.12.inside.env") == "container.*.inside.env"
    assert signature("pod.status.state") == "pod.status.state"


def test_placeholders_replace_whole_values_at_any_depth_never_part_of_another() -> None:
    substitute = substitution(
        {POD_ID: "<pod-id>", "10.0.0.1": "<pod-ip>", "/tmp/run/logs/pod-1": "<log-directory>"}
    )
    value = {
        "hosts": ["10.0.0.1\tweb", "10.0.0.12\tother"],
        "log_path": "/tmp/run/logs/pod-1/c.log",
        POD_ID: f"cgroup /k8s.io/{POD_ID}",
    }
    assert substitute(value) == {
        "hosts": ["<pod-ip>\tweb", "10.0.0.12\tother"],
        "log_path": "<log-directory>/c.log",
        "<pod-id>": "cgroup /k8s.io/<pod-id>",
    }
    assert substitution({"": "<nothing>"})("unchanged") == "unchanged"


def test_builtin_rules_keep_only_whether_a_time_is_set_and_sort_mounts() -> None:
    fields = {
        "pod.status.created_at": "1796563314658980000",
        "container.0.status.finished_at": None,
        "container.0.inside.mounts": ["/proc proc rw", "/ overlay rw"],
        "container.0.status.state": "CONTAINER_RUNNING",
    }
    assert normalise(fields, {}, BUILTIN) == {
        "pod.status.created_at": SET,
        "container.0.status.finished_at": None,
        "container.0.inside.mounts": ["/ overlay rw", "/proc proc rw"],
        "container.0.status.state": "CONTAINER_RUNNING",
    }


def test_user_rules_drop_replace_and_ignore(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {field: 'container.*.inside.env', action: drop, match: '^HOSTNAME$', reason: r1}\n"
        "  - {field: 'container.*.inside.hosts', action: drop, match: '^ff0', reason: r2}\n"
        "  - {field: 'container.*.status.image_ref', action: replace, match: '@sha256:.*',"
        " with: '@<digest>', reason: r3}\n"
        "  - {field: 'pod.status.runtime_handler', action: ignore, reason: r4}\n"
    )
    rules = load_rules(path)
    fields = {
        "container.0.inside.env": {"HOSTNAME": "h", "A": "1"},
        "container.0.inside.hosts": ["127.0.0.1 localhost", "ff02::1 ip6-allnodes"],
        "container.0.status.image_ref": "busybox@sha256:0123",
        "pod.status.runtime_handler": "runc",
    }
    assert normalise(fields, {}, rules) == {
        "container.0.inside.env": {"A": "1"},
        "container.0.inside.hosts": ["127.0.0.1 localhost"],
        "container.0.status.image_ref": "busybox@<digest>",
    }
    assert rules[0].describe() == "container.*.inside.env: drop /^HOSTNAME$/ (r1)"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{field: x, action: shuffle, reason: r}", "action must be one of"),
        ("{field: x, action: drop, reason: r}", "match is needed"),
        ("{field: x, action: sort, match: a, reason: r}", "match is needed"),
        ("{field: x, action: drop, match: '(', reason: r}", "not a regular expression"),
        ("{field: x, action: sort}", "missing reason"),
        ("{field: x, action: sort, reason: r, why: w}", r"unknown key\(s\) why"),
        ("{field: x, action: sort, reason: ''}", "non-empty string"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_file_and_entry(
    tmp_path: Path, entry: str, problem: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  - {{field: ok, action: sort, reason: r}}\n  - {entry}\n")
    with pytest.raises(EntriesError, match=rf"rules.yaml: rules entry 2: .*{problem}"):
        load_rules(path)


def test_comparison_lists_every_differing_path_with_what_differs() -> None:
    a = {"x.same": 1, "x.env": {"A": "1", "B": "2"}, "x.hosts": ["l", "m"], "x.only_a": "v"}
    b = {"x.same": 1, "x.env": {"A": "9", "C": "3"}, "x.hosts": ["m", "n"]}
    differences = compare(a, b)
    assert [d.path for d in differences] == ["x.env", "x.hosts", "x.only_a"]
    env, hosts, only_a = differences
    assert env.detail() == 'only in a: B="2"; only in b: C="3"; A: "1" vs "9"'
    assert hosts.detail() == 'only in a: "l"; only in b: "n"'
    assert only_a.detail() == '"v" vs (not set)'
    assert FieldDifference("x", ["a", "b"], ["b", "a"]).detail() == "same items, another order"
    assert compare(a, dict(a)) == []
