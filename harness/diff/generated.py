"""The specs a diff generates, and the instance of a spec each runtime is given.

Specs come from the valid-spec strategies of the property tests (``pod_specs``), with what the
chosen areas vary turned on. A drawn spec is made *canonical*: the random parts the strategies
add outside hypothesis (the pod name's unique suffix, the uid) are taken out, so the same
draw is the same spec and a spec is its own cache key. Each runtime then runs an *instance*:
the canonical spec with a fresh unique name and uid, the run's labels, and host folders of its
own, so two instances of one spec never meet, even on one runtime.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

from cri_api.v1 import api_pb2 as cri
from hypothesis.strategies import SearchStrategy

from harness.builders import unique_name
from harness.properties.spec_files import Spec, to_json
from harness.properties.specs import EXAMPLE_LABEL, Owner, pid_modes, pod_specs

PROPERTY = "diff"  # the property a diff's spec file names; replayed with `replay --diff`
AREAS_PARAM = "areas"
MAX_CONTAINERS = 2
# What every container prints before its keepalive loop when logs are compared: a line on
# each stream, an empty line, and one with a tab and non-ASCII text.
OUTPUT = "echo out; echo err >&2; echo; printf 'tab\\tand \\303\\274\\n'; "
OUTPUT_LINES = {"stdout": 3, "stderr": 1}


def diff_specs(owner: Owner, image: str, areas: frozenset[str]) -> SearchStrategy[Spec]:
    """Canonical specs of one pod with one or two containers, varying what ``areas`` cover."""
    drawn = pod_specs(
        owner,
        image,
        PROPERTY,
        containers=(1, MAX_CONTAINERS),
        pid_mode=pid_modes() if "namespaces" in areas else None,
        mounts="mounts" in areas,
        resources="resources" in areas,
        security="security" in areas,
        output=OUTPUT if "logs" in areas else "",
    )
    params = {AREAS_PARAM: ",".join(sorted(areas))}
    return drawn.map(lambda spec: canonical(replace(spec, params=params)))


def base_name(name: str) -> str:
    """A pod name without the suffix ``unique_name`` gave it."""
    return name.rsplit("-", 1)[0]


def canonical(spec: Spec) -> Spec:
    """The spec without what was random outside hypothesis: its name's suffix and its uid."""
    pod = cri.PodSandboxConfig()
    pod.CopyFrom(spec.pod)
    name = base_name(pod.metadata.name)
    pod.metadata.name = name
    pod.metadata.uid = ""
    pod.labels[EXAMPLE_LABEL] = name
    if pod.log_directory:
        pod.log_directory = str(Path(pod.log_directory).parent / name)
    return replace(spec, pod=pod)


def instance(spec: Spec, run_id: str, test: str, root: Path) -> Spec:
    """One runtime's copy of a canonical spec: a unique name, a uid, the run's labels, and a
    log folder and volume folders under ``root`` of its own."""
    pod = cri.PodSandboxConfig()
    pod.CopyFrom(spec.pod)
    name = unique_name(pod.metadata.name)
    pod.metadata.name = name
    pod.metadata.uid = str(uuid.uuid4())
    pod.labels[EXAMPLE_LABEL] = name
    pod.log_directory = pod.log_directory and str(root / name / "logs")
    named = replace(spec, pod=pod).owned_by(run_id, test)
    return named.moved_to(str(root / name / "volumes"), pod.log_directory)


def spec_key(spec: Spec) -> str:
    """The canonical spec as text: equal for equal draws."""
    return json.dumps(to_json(spec), sort_keys=True)


def areas_of(spec: Spec) -> frozenset[str]:
    """The areas a spec was generated for (kept in its params)."""
    return frozenset(filter(None, spec.params.get(AREAS_PARAM, "").split(",")))
