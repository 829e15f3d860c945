"""Fuzz: every unary RPC of both CRI services gets hypothesis-made requests on the shim on Docker.

Requests are built from the API's descriptors (``protobuf_strategies``): any field set or not,
edge integers, unknown enum values, path shapes, very long strings, nested messages; now and
then the bytes are broken so they do not decode at all. Ids point at a real pod and containers
as often as at nothing. After every request the shim must answer Version, and its answer must
be a status with a meaning: never UNKNOWN, and INTERNAL (the shim's own fault) fails the test
like any bug would. When the shim stops, nothing of it is left in Docker, no log file was made
outside the pods' log folder, and its log holds no traceback.

The ``cri-conformance-ci`` hypothesis profile (the default) sends about 300 requests; the
``cri-conformance-thorough`` one 10,000, from a fresh seed:

    .venv/bin/pytest tests/integration/shim/test_fuzz.py \
        --hypothesis-profile cri-conformance-thorough

Fields whose valid values act on the host beyond the shim's own objects are held to safe values
(``safe_fields``): commands run only harmless programs, images are pulled only from the local
registry on loopback and removed only when no such image exists, pods log only under the test's
folder or into paths the shim must refuse, and pods get no cgroup parent (Docker would leave
the parent's cgroup folders behind).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from docker_shim import BUSYBOX, instance_of, owned_by, remove_everything
from fuzz_target import UNTIL_STOPPED, Figures, FuzzTarget, Rpc, image_exists, unary_rpcs
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from protobuf_strategies import PATH_SHAPES, MessageStrategies, hostile_text, mutations

from harness.properties import hypothesis_profiles
from harness.pytest_plugin.options import value

# Per run, by hypothesis profile.
REQUESTS = {hypothesis_profiles.CI: 300, hypothesis_profiles.THOROUGH: 10_000}
RPCS = unary_rpcs()
LOCAL_REGISTRY = "127.0.0.1:5000"
# Programs a fuzzed exec or container may run: none can harm the host whatever its arguments,
# and every exec ends at once (an endless one only waits out the request's deadline; the shim
# then ends it, as test_hostile_input_on_docker checks).
EXEC_COMMANDS = (["echo"], ["true"], ["sh", "-c", "exit 3"], ["/fuzz/absent"])
COMMANDS = (*EXEC_COMMANDS, ["sh", "-c", UNTIL_STOPPED])
# Bytes after which no message decodes: field number 0 (and anything after it), a varint that
# never ends, a length beyond the end.
BREAKAGES = (b"\xff" * 11, b"\x0a\x7f")
BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


def varint(value: int) -> bytes:
    encoded = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        encoded.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(encoded)


def tails() -> SearchStrategy[tuple[bytes, bool]]:
    """Bytes to append to an encoded request, and whether it then does not decode: nothing, a
    field the API does not have (a request of an empty message still varies), or breakage."""
    unknown_field = st.tuples(st.integers(1000, 18_999), st.integers(0, 2**64 - 1)).map(
        lambda field: varint(field[0] << 3) + varint(field[1])
    )
    broken = st.one_of(
        st.sampled_from(BREAKAGES), st.binary(max_size=16).map(lambda rest: b"\x00" + rest)
    )
    kinds = {
        1: unknown_field.map(lambda tail: (tail, False)),
        2: broken.map(lambda tail: (tail, True)),
    }
    nothing = st.just((b"", False))
    return st.integers(1, 5).flatmap(lambda kind: kinds.get(kind, nothing))


def requests_per_rpc() -> int:
    total = REQUESTS.get(settings.get_current_profile_name(), REQUESTS[hypothesis_profiles.CI])
    return math.ceil(total / len(RPCS))


@pytest.fixture(scope="module")
def target(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    docker_api: docker.APIClient,
) -> Iterator[FuzzTarget]:
    fuzz = FuzzTarget(tmp_path_factory.mktemp("fuzz"))
    yield fuzz
    remove_everything(fuzz.client)
    instance = instance_of(fuzz.root / "state")
    log = fuzz.close()
    report_figures(request.config, fuzz.figures)
    assert owned_by(docker_api, instance) == [], "the shim left objects in Docker"
    outside = {p for p in (fuzz.root / "host").rglob("*") if fuzz.pod_logs not in (p, *p.parents)}
    assert outside == {fuzz.root / "host" / "var", fuzz.root / "host" / "var" / "log"}, outside
    assert "Traceback" not in log, f"the shim logged a traceback:\n{log}"


def report_figures(config: pytest.Config, figures: Figures) -> None:
    """Into ``<report-dir>/fuzz-figures.json``, and onto the terminal even with ``-q``."""
    path = Path(value(config, "cri_report_dir")) / "fuzz-figures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    figures.write(path)
    terminal = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    if terminal is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"\nfuzz figures ({path}): {json.dumps(figures.summary())}")


def ids(known: list[str]) -> SearchStrategy[str]:
    """A real id, a prefix of one, or anything."""
    prefixes = [known_id[:size] for known_id in known for size in (1, 12)]
    return st.one_of(st.sampled_from(known), st.sampled_from(prefixes), hostile_text())


def safe_fields(rpc: Rpc, target: FuzzTarget) -> dict[str, SearchStrategy[Any]]:
    """Overrides that keep requests off the host and the network (see the module docstring)."""
    if rpc.name == "PullImage":
        image = st.text(max_size=40).map(lambda name: f"{LOCAL_REGISTRY}/{name}")
    else:
        image = st.one_of(st.just(BUSYBOX), hostile_text())
    relative_shapes = [shape for shape in PATH_SHAPES if not shape.startswith("/")]
    real_ids = ids(target.anchor_ids)
    return {
        "pod_sandbox_id": real_ids,
        "container_id": real_ids,
        "target_id": real_ids,
        "id": real_ids,
        "runtime.v1.ImageSpec.image": image,
        "runtime.v1.ContainerConfig.command": st.sampled_from(COMMANDS),
        "runtime.v1.ExecSyncRequest.cmd": st.one_of(
            st.sampled_from(EXEC_COMMANDS),
            st.lists(hostile_text(), max_size=2).map(lambda a: ["echo", *a]),
        ),
        "runtime.v1.PodSandboxConfig.log_directory": st.one_of(
            st.text(max_size=20).map(lambda name: f"{target.pod_logs}/{name}"),
            st.sampled_from(relative_shapes),
            st.sampled_from([f"{target.pod_logs}/../../escape", f"{target.pod_logs}/a/.."]),
        ),
        "runtime.v1.LinuxPodSandboxConfig.cgroup_parent": st.just(""),
        "runtime.v1.PortMapping.host_ip": st.sampled_from(["127.0.0.1", "::1", "256.1.1.1", "x"]),
    }


def valid_requests(rpc: Rpc, target: FuzzTarget) -> SearchStrategy[Message]:
    """A request the shim should carry out, to be changed a little; aimed at the anchor."""
    pod_id, running_id, created_id = target.anchor_ids

    def pod(n: str) -> cri.PodSandboxConfig:
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=f"p{n}", namespace="fuzz", uid=n),
            log_directory=f"{target.pod_logs}/fuzz_p{n}_{n}",
            hostname="fuzz",
        )

    def container(n: str) -> cri.ContainerConfig:
        return cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=f"c{n}"),
            image=cri.ImageSpec(image=BUSYBOX),
            command=["sh", "-c", UNTIL_STOPPED],
            log_path=f"c{n}/0.log",
        )

    image = cri.ImageSpec(image=BUSYBOX)
    made: dict[str, Callable[[str], Message]] = {
        "RunPodSandbox": lambda n: cri.RunPodSandboxRequest(config=pod(n)),
        "CreateContainer": lambda n: cri.CreateContainerRequest(
            pod_sandbox_id=pod_id, config=container(n), sandbox_config=target.anchor_config
        ),
        "StartContainer": lambda n: cri.StartContainerRequest(container_id=created_id),
        "ExecSync": lambda n: cri.ExecSyncRequest(
            container_id=running_id, cmd=["echo", n], timeout=10
        ),
        "Exec": lambda n: cri.ExecRequest(container_id=running_id, cmd=["echo", n], stdout=True),
        "Attach": lambda n: cri.AttachRequest(container_id=running_id, stdout=True),
        "PortForward": lambda n: cri.PortForwardRequest(pod_sandbox_id=pod_id, port=[80]),
        "UpdateContainerResources": lambda n: cri.UpdateContainerResourcesRequest(
            container_id=running_id,
            linux=cri.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=2**28),
        ),
        "PullImage": lambda n: cri.PullImageRequest(image=image),
        "ImageStatus": lambda n: cri.ImageStatusRequest(image=image, verbose=True),
    }
    if rpc.name in made:
        return st.uuids().map(lambda uuid: made[rpc.name](uuid.hex[:12]))
    request: Any = rpc.request()
    fields = request.DESCRIPTOR.fields_by_name
    if "pod_sandbox_id" in fields:
        request.pod_sandbox_id = pod_id
    if "container_id" in fields:
        request.container_id = running_id
    return st.just(request).map(lambda message: message.__deepcopy__())


def requests(rpc: Rpc, target: FuzzTarget) -> SearchStrategy[Message]:
    """Anything at all, or a valid request with a few fields changed."""
    safe = safe_fields(rpc, target)
    descriptor = rpc.request.DESCRIPTOR
    # types-protobuf also allows upb's descriptor class, which is a Descriptor (its metaclass
    # says so): the check narrows the type and never fails.
    assert isinstance(descriptor, Descriptor)
    anything = MessageStrategies(safe).message(descriptor)
    changes = MessageStrategies(safe, sparse=True).message(descriptor)
    return st.one_of(anything, mutations(valid_requests(rpc, target), changes))


def runs_harmless_programs(config: cri.ContainerConfig) -> bool:
    """Whether the container's argv starts with one of ``COMMANDS`` (what follows it is only
    arguments, or ``$0`` of ``sh -c``)."""
    return any(list(config.command[: len(command)]) == command for command in COMMANDS)


def check(target: FuzzTarget, rpc: Rpc, payload: bytes, undecodable: bool) -> bytes:
    """Send, count, and hold the answer to the rules of the module docstring."""
    code, details, answer = target.send(rpc, payload)
    target.figures.count(rpc.name, code, undecodable)
    assert code not in BAD_CODES, f"{rpc.name} answered {code.name}: {details[:2000]}"
    if undecodable:
        assert code == grpc.StatusCode.INVALID_ARGUMENT, f"undecodable: {code.name} {details}"
    target.still_serves()
    return answer


@pytest.mark.parametrize("rpc", RPCS, ids=[rpc.name for rpc in RPCS])
def test_the_shim_answers_every_request_with_a_meaningful_status(
    rpc: Rpc, target: FuzzTarget, docker_api: docker.APIClient
) -> None:
    start = next(known for known in RPCS if known.name == "StartContainer")

    @settings(
        max_examples=requests_per_rpc(),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests(rpc, target), tail=tails())
    def answers(request: Any, tail: tuple[bytes, bool]) -> None:
        if rpc.name == "RemoveImage" and image_exists(docker_api, request.image.image):
            reject()  # the shim removes an image whoever pulled it: only absent ones here
        extra, undecodable = tail
        answer = check(target, rpc, request.SerializeToString() + extra, undecodable)
        if rpc.name == "CreateContainer" and answer and runs_harmless_programs(request.config):
            created = cri.CreateContainerResponse.FromString(answer).container_id
            check(
                target,
                start,
                cri.StartContainerRequest(container_id=created).SerializeToString(),
                False,
            )

    try:
        answers()
    finally:
        target.remove_all_but_the_anchor()
