"""Hypothesis strategies for invalid input: a valid spec with one thing wrong.

Each strategy starts from ``specs`` (valid specs) and breaks one rule, recording in ``params``
what it broke (the case, the call, the bad value), so ``invalid`` (the properties) knows what
to send and a saved spec file says what went wrong. Image references always point at the local
registry on loopback, so even a runtime that wrongly accepts one never reaches the internet.
"""

from __future__ import annotations

from collections.abc import Callable

from cri_api.v1 import api_pb2 as cri
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from harness.properties.spec_files import Spec
from harness.properties.specs import Owner, dns1123_labels, pod_specs, printable_text

LOCAL_REPOSITORY = "127.0.0.1:5000/cri-conformance"
HEX = "0123456789abcdef"

MISSING_FIELDS = ("pod-metadata", "container-metadata", "container-image")
# Calls that name one object by id; the id is the only thing wrong with the request.
POD_ID_CALLS = ("PodSandboxStatus", "CreateContainer")
CONTAINER_ID_CALLS = (
    "ContainerStatus",
    "StartContainer",
    "ExecSync",
    "ContainerStats",
    "UpdateContainerResources",
)
ID_CALLS = POD_ID_CALLS + CONTAINER_ID_CALLS
RESOURCE_FIELDS = ("memory_limit_in_bytes", "cpu_shares", "cpu_quota", "cpu_period")
CONFLICTS = ("user-and-username", "privileged-in-unprivileged-pod", "pid-target-without-id")


def _with_params(spec: Spec, **params: str) -> Spec:
    return Spec(spec.property, spec.pod, spec.containers, params, spec.volume_root)


@st.composite
def missing_fields(draw: st.DrawFn, owner: Owner, image: str) -> Spec:
    """A pod or container config without its metadata, or a container without an image."""
    spec = draw(pod_specs(owner, image, "invalid.missing-fields"))
    case = draw(st.sampled_from(MISSING_FIELDS))
    if case == "pod-metadata":
        spec.pod.ClearField("metadata")
    elif case == "container-metadata":
        spec.containers[0].ClearField("metadata")
    else:
        spec.containers[0].ClearField("image")
    return _with_params(spec, case=case)


def unknown_ids() -> SearchStrategy[str]:
    """Ids no runtime gave out: 64 hex digits, or words that cannot prefix-match an id."""
    full = st.text(HEX, min_size=64, max_size=64)
    worded = dns1123_labels(max_size=40).map(lambda name: f"unknown-{name}")
    return st.one_of(full, worded)


@st.composite
def unknown_id_calls(draw: st.DrawFn, owner: Owner, image: str) -> Spec:
    """One call naming an object that does not exist; the empty id counts as missing."""
    spec = draw(pod_specs(owner, image, "invalid.unknown-ids"))
    return _with_params(spec, call=draw(st.sampled_from(ID_CALLS)), id=draw(unknown_ids()))


def odd_names() -> SearchStrategy[str]:
    """Names Kubernetes would never send: empty, too long for DNS, or with odd characters."""
    too_long = st.integers(64, 300).map(lambda size: "n" * size)
    odd = printable_text(max_size=39).map(lambda text: f"X{text}")
    return st.one_of(st.just(""), too_long, odd, st.sampled_from(["a_b", "a b", "a/b", "A"]))


@st.composite
def odd_name_specs(draw: st.DrawFn, owner: Owner, image: str) -> Spec:
    spec = draw(pod_specs(owner, image, "invalid.names"))
    target = draw(st.sampled_from(["pod", "container"]))
    name = draw(odd_names())
    if target == "pod":
        spec.pod.metadata.name = name
    else:
        spec.containers[0].metadata.name = name
    return _with_params(spec, target=target)


def malformed_references() -> SearchStrategy[str]:
    """References no parser accepts, each in the local registry's namespace."""
    name = dns1123_labels(max_size=20)
    defects = [
        name.map(lambda n: f"{LOCAL_REPOSITORY}/{n.upper()}X:1"),
        name.map(lambda n: f"{LOCAL_REPOSITORY}/{n}:1:2"),
        name.map(lambda n: f"{LOCAL_REPOSITORY}/{n}@sha256:xyz"),
        name.map(lambda n: f"{LOCAL_REPOSITORY}/{n} x:1"),
        name.map(lambda n: f"{LOCAL_REPOSITORY}//{n}:1"),
        name.map(lambda n: f"{LOCAL_REPOSITORY}/{n}:bad!tag"),
        name.map(lambda n: f"{LOCAL_REPOSITORY}/{n}:"),
    ]
    return st.one_of(*defects)


def absent_references() -> SearchStrategy[str]:
    """Well-formed references to images the local registry does not hold."""
    return dns1123_labels(max_size=20).map(lambda n: f"{LOCAL_REPOSITORY}/absent-{n}:1")


def image_references(property: str) -> Callable[[Owner, str], SearchStrategy[Spec]]:
    """Specs whose container (or pull) names a malformed or absent image reference."""

    @st.composite
    def image_reference_specs(draw: st.DrawFn, owner: Owner, image: str) -> Spec:
        spec = draw(pod_specs(owner, image, property))
        reference = draw(st.one_of(malformed_references(), absent_references()))
        spec.containers[0].image.image = reference
        return _with_params(spec, image=reference)

    return image_reference_specs


@st.composite
def negative_resource_specs(draw: st.DrawFn, owner: Owner, image: str) -> Spec:
    spec = draw(pod_specs(owner, image, "invalid.negative-resources"))
    field = draw(st.sampled_from(RESOURCE_FIELDS))
    value = draw(st.integers(-(2**40), -1))
    setattr(spec.containers[0].linux.resources, field, value)
    return _with_params(spec, field=field, value=str(value))


@st.composite
def conflicting_option_specs(draw: st.DrawFn, owner: Owner, image: str) -> Spec:
    """Options the CRI API says cannot go together."""
    spec = draw(pod_specs(owner, image, "invalid.conflicting-options"))
    case = draw(st.sampled_from(CONFLICTS))
    security = spec.containers[0].linux.security_context
    if case == "user-and-username":
        security.run_as_user.CopyFrom(cri.Int64Value(value=draw(st.integers(0, 65535))))
        security.run_as_username = draw(st.sampled_from(["root", "nobody", "conformance"]))
    elif case == "privileged-in-unprivileged-pod":
        spec.pod.linux.security_context.privileged = False
        security.privileged = True
    else:
        security.namespace_options.pid = cri.TARGET
        security.namespace_options.target_id = ""
    return _with_params(spec, case=case)
