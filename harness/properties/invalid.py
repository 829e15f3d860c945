"""Properties of invalid specs: refused with a code that says why, and the runtime goes on.

UNKNOWN and INTERNAL tell the kubelet nothing it can act on; a refusal of bad input should be
INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION... as gRPC's status codes describe. Where
the CRI API does not forbid an input (odd names, negative limits), a runtime may accept it,
but then it must honour it. UNIMPLEMENTED is left to propagate: the matrix records it as
``unsupported``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from cri_api.v1 import api_pb2 as cri

from harness.client import CallFailed, CriClient
from harness.properties.lab import Lab, prepare_volumes
from harness.properties.registry import register
from harness.properties.spec_files import Spec
from harness.properties.specs import EXAMPLE_LABEL
from harness.waiting import wait_until

MEANINGLESS = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
T = TypeVar("T")


def attempt(what: str, call: Callable[[], T]) -> T | CallFailed:
    """Make ``call``: its answer, or its refusal, which must carry a meaningful code."""
    try:
        return call()
    except CallFailed as error:
        refusal = error
    if refusal.code is grpc.StatusCode.UNIMPLEMENTED:
        raise refusal
    assert refusal.code not in MEANINGLESS, (
        f"{what} was refused with {refusal.code.name} ({refusal.details}); a refusal of bad "
        "input must name the problem (INVALID_ARGUMENT, NOT_FOUND, ...)"
    )
    return refusal


def refuse(what: str, call: Callable[[], object], *codes: grpc.StatusCode) -> None:
    """``call`` must be refused meaningfully (with one of ``codes`` when given)."""
    outcome = attempt(what, call)
    assert isinstance(outcome, CallFailed), f"{what} was accepted"
    if codes:
        expected = " or ".join(code.name for code in codes)
        assert outcome.code in codes, f"{what} was refused with {outcome.code.name}, not {expected}"


def still_serving(client: CriClient, spec: Spec, pod_refused: bool = False) -> None:
    """The runtime answers, and a refused RunPodSandbox left no pod behind."""
    client.version()
    if pod_refused:
        example = {EXAMPLE_LABEL: spec.pod.labels[EXAMPLE_LABEL]}
        leftovers = client.list_pods(cri.PodSandboxFilter(label_selector=example))
        assert not leftovers, f"a refused RunPodSandbox left pod {leftovers[0].id} behind"


def create_refused(lab: Lab, spec: Spec, what: str, *codes: grpc.StatusCode) -> None:
    """CreateContainer of the spec's container is refused, and no container appears."""
    prepare_volumes(spec)
    pod = lab.run_pod(spec.pod)
    config = spec.containers[0]
    refuse(what, lambda: lab.create(pod, config, pull=False), *codes)
    assert not lab.client.list_containers(cri.ContainerFilter(pod_sandbox_id=pod.id))


@register("invalid.missing-fields", "properties.invalid.missing-fields")
def missing_fields_are_refused(lab: Lab, spec: Spec) -> None:
    case = spec.params["case"]
    if case == "pod-metadata":
        refuse("RunPodSandbox without metadata", lambda: lab.run_pod(spec.pod))
        still_serving(lab.client, spec, pod_refused=True)
        return
    if case == "container-metadata":
        lab.pull(spec.containers[0].image.image)
    create_refused(lab, spec, f"CreateContainer without {case.removeprefix('container-')}")
    still_serving(lab.client, spec)


def _id_call(client: CriClient, spec: Spec, call: str, object_id: str) -> Callable[[], Any]:
    container = spec.containers[0]
    calls: dict[str, Callable[[], Any]] = {
        "PodSandboxStatus": lambda: client.pod_status(object_id),
        "CreateContainer": lambda: client.create_container(object_id, container, spec.pod),
        "ContainerStatus": lambda: client.container_status(object_id),
        "StartContainer": lambda: client.start_container(object_id),
        "ExecSync": lambda: client.exec_sync(object_id, ["true"], timeout=5),
        "ContainerStats": lambda: client.container_stats(object_id),
        "UpdateContainerResources": lambda: client.update_container_resources(
            object_id, cri.LinuxContainerResources(cpu_shares=512)
        ),
    }
    return calls[call]


@register("invalid.unknown-ids", "properties.invalid.unknown-ids")
def unknown_ids_are_not_found(lab: Lab, spec: Spec) -> None:
    call, object_id = spec.params["call"], spec.params["id"]
    lab.pull(spec.containers[0].image.image)
    refuse(
        f"{call} of unknown id {object_id!r}",
        _id_call(lab.client, spec, call, object_id),
        grpc.StatusCode.NOT_FOUND,
    )
    still_serving(lab.client, spec)


@register("invalid.names", "properties.invalid.names")
def odd_names_are_kept_or_refused(lab: Lab, spec: Spec) -> None:
    """The API leaves names to the kubelet: a runtime may accept any, but must keep it exact."""
    if spec.params["target"] == "pod":
        name = spec.pod.metadata.name
        pod = attempt(f"RunPodSandbox named {name!r}", lambda: lab.run_pod(spec.pod))
        if isinstance(pod, CallFailed):
            still_serving(lab.client, spec, pod_refused=True)
            return
        assert lab.client.pod_status(pod.id).status.metadata.name == name
    else:
        config = spec.containers[0]
        pod = lab.run_pod(spec.pod)
        lab.pull(config.image.image)
        name = config.metadata.name
        container = attempt(f"CreateContainer named {name!r}", lambda: lab.create(pod, config))
        if not isinstance(container, CallFailed):
            assert lab.client.container_status(container.id).status.metadata.name == name
    still_serving(lab.client, spec)


@register("invalid.image-references", "properties.invalid.image-references")
def bad_image_references_are_refused_at_create(lab: Lab, spec: Spec) -> None:
    create_refused(lab, spec, f"CreateContainer of image {spec.params['image']!r}")
    still_serving(lab.client, spec)


@register("invalid.pull-references", "properties.invalid.pull-references")
def bad_image_references_are_refused_at_pull(lab: Lab, spec: Spec) -> None:
    reference = spec.params["image"]
    refuse(f"PullImage of {reference!r}", lambda: lab.client.pull_image(reference))
    still_serving(lab.client, spec)


@register("invalid.negative-resources", "properties.invalid.negative-resources")
def negative_resources_are_refused_or_run(lab: Lab, spec: Spec) -> None:
    """No CRI rule forbids them; refused, the code must say why; accepted, the container runs."""
    what = f"a container with {spec.params['field']}={spec.params['value']}"
    pod = lab.run_pod(spec.pod)
    container = attempt(f"CreateContainer of {what}", lambda: lab.create(pod, spec.containers[0]))
    if not isinstance(container, CallFailed):
        started = attempt(
            f"StartContainer of {what}", lambda: lab.client.start_container(container.id)
        )
        if not isinstance(started, CallFailed):
            wait_until(
                lambda: lab.client.container_status(container.id).status.state,
                lambda state: state == cri.CONTAINER_RUNNING,
                what=f"{what} to run",
            )
    still_serving(lab.client, spec)


@register("invalid.conflicting-options", "properties.invalid.conflicting-options")
def conflicting_options_are_refused(lab: Lab, spec: Spec) -> None:
    """run_as_user with run_as_username ("only one ... at a time"), a privileged container in
    a pod not marked privileged ("this MUST be true"), pid TARGET without a target id."""
    lab.pull(spec.containers[0].image.image)
    create_refused(lab, spec, f"CreateContainer with {spec.params['case']}")
    still_serving(lab.client, spec)
