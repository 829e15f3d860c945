"""The diff's hypothesis driver, over a fake pair of runtimes that differ on one planted field.

The fakes observe a spec without any runtime: both report each container's working
directory and environment, and runtime b gets the working directory wrong when its name
holds a digit. The real normalisation, comparison and classification run on what they say.
"""

from __future__ import annotations

from dataclasses import replace

from cri_api.v1 import api_pb2 as api
from hypothesis import find, settings

from harness.builders import container_config, pod_config
from harness.diff.collect import Side
from harness.diff.driver import Search, SearchSettings, tally
from harness.diff.generated import diff_specs, spec_key
from harness.diff.known import KnownDifference
from harness.diff.observation import ContainerObservation, Observation
from harness.diff.pair import Example, Pair
from harness.properties.spec_files import Spec
from harness.properties.specs import Owner

OWNER = Owner("20260101-000000-abcdef", "tests::unit", "/logs", "/volumes")
IMAGE = "127.0.0.1:5000/cri-conformance/busybox:1.0"
PLANTED = "container.*.inside.cwd"
# The areas the planted field is in: the specs stay small, and so does the time to draw them.
AREAS = frozenset({"lifecycle", "process"})


class FakeSide:
    def __init__(self, name: str) -> None:
        self.name = name


def fake_observer(side: Side, spec: Spec, areas: frozenset[str]) -> Observation:
    """What a fake runtime shows: b reports ``/`` as the working directory of a container
    whose configured one holds a digit (the planted difference)."""
    observation = Observation(steps={"RunPodSandbox": "OK"})
    observation.placeholders[spec.pod.metadata.name] = "<pod-name>"
    observation.pod = {"metadata": {"name": spec.pod.metadata.name}}
    for config in spec.containers:
        cwd = config.working_dir or "/"
        if side.name == "b" and any(ch.isdigit() for ch in cwd):
            cwd = "/"
        environment = {variable.key: variable.value for variable in config.envs}
        observation.containers.append(
            ContainerObservation(
                steps={"CreateContainer": "OK"}, inside={"cwd": cwd, "env": environment}
            )
        )
    return observation


class CountingPair(Pair):
    examined = 0

    def examine(self, spec: Spec) -> Example:
        self.examined += 1
        return super().examine(spec)


def pair(known: list[KnownDifference] | None = None) -> CountingPair:
    return CountingPair(
        FakeSide("a"),  # type: ignore[arg-type]  # a fake Side: the fake observer reads its name
        FakeSide("b"),  # type: ignore[arg-type]  # a fake Side: the fake observer reads its name
        AREAS,
        rules=(),
        known=known or [],
        observer=fake_observer,
    )


def search(fakes: Pair, examples: int, shrink_runs: int = 0) -> Search:
    return Search(
        fakes.examine,
        diff_specs(OWNER, IMAGE, AREAS),
        SearchSettings(examples=examples, seed=1234, shrink_runs=shrink_runs),
        say=lambda line: None,
    )


def test_the_planted_difference_is_found_counted_and_shrunk_to_the_minimal_spec() -> None:
    explored = search(pair(), examples=20).run()  # no shrinking: the smallest explored
    (smallest,) = explored.findings
    fakes = pair()
    outcome = search(fakes, examples=20, shrink_runs=300).run()
    (finding,) = outcome.findings
    assert finding.example is not None
    assert finding.signature == PLANTED
    assert finding.is_new
    assert finding.shrunk
    assert not smallest.shrunk
    assert outcome.explored == 20
    assert finding.count == smallest.count
    assert 0 < finding.count < 20
    assert fakes.examined == outcome.runs < 20 + 300  # no spec twice, and shrinking ended
    assert spec_key(finding.example.spec) == spec_key(minimal_spec_showing_the_planted_difference())
    (difference,) = finding.example.differences  # only the planted one, b's "/"
    assert (difference.difference.signature, difference.difference.b) == (PLANTED, "/")


def minimal_spec_showing_the_planted_difference() -> Spec:
    """The simplest spec the strategy has, with the shortest working directory that holds a
    digit: the spec only the planted difference asks for."""
    shrinking = settings(settings.get_profile("default"), database=None)  # not the session's
    simplest = find(diff_specs(OWNER, IMAGE, AREAS), lambda spec: True, settings=shrinking)
    (container,) = simplest.containers
    planted = api.ContainerConfig()
    planted.CopyFrom(container)
    planted.working_dir = "/0"
    return replace(simplest, containers=(planted,))


def test_shrinking_stops_at_its_budget_with_the_smallest_example_so_far() -> None:
    fakes = pair()
    outcome = search(fakes, examples=20, shrink_runs=10).run()
    assert fakes.examined == outcome.runs <= 20 + 10
    (finding,) = outcome.findings
    assert finding.shrunk
    assert finding.example is not None
    assert finding.example.shows(PLANTED)


def test_a_listed_difference_is_known_and_not_shrunk() -> None:
    listed = KnownDifference(PLANTED, "b ignores working_dir with digits", "test")
    fakes = pair([listed])
    outcome = search(fakes, examples=20).run()
    (finding,) = outcome.findings
    assert not finding.is_new
    assert finding.reason == listed.reason
    assert not finding.shrunk
    assert fakes.examined == 20


def test_without_a_difference_there_is_no_finding() -> None:
    same = pair()
    same.b = FakeSide("a")  # type: ignore[assignment]  # a fake Side
    assert search(same, examples=15).run().findings == []


def test_the_tally_counts_examples_and_keeps_the_smallest_of_each_difference() -> None:
    fakes = pair()
    small, large, plain = (_spec(working_dir) for working_dir in ("/1", "/1" + "x" * 40, "/x"))
    examples = [fakes.examine(spec) for spec in (large, plain, small, large)]
    (finding,) = tally(examples)
    assert finding.count == 3
    assert finding.example is not None
    assert finding.example.spec == small


def _spec(working_dir: str) -> Spec:
    pod = pod_config("pod", run_id=OWNER.run_id)
    return Spec(
        "diff", pod, (container_config("c", IMAGE, run_id=OWNER.run_id, working_dir=working_dir),)
    )
