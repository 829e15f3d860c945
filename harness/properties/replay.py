"""``cri-conformance replay FILE``: run a saved spec's property again, outside pytest.

The spec's objects are relabelled for a fresh run id and its host paths moved to a scratch
folder; whatever the replay creates is removed at the end, and anything left is reported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from harness import endpoints as endpoint_resolution
from harness.client import CallFailed, CriClient, CriError
from harness.endpoints import EndpointError
from harness.factories import ImagePuller
from harness.ownership import RunOwnership, new_run_id
from harness.properties import lookup, spec_files
from harness.properties.lab import lab
from harness.properties.specs import Owner
from harness.resources import sweep

PASSED, FAILED = 0, 1
NO_ENDPOINT = (
    "replay needs a runtime: pass --cri-endpoint unix:///path/to/runtime.sock, set "
    f"{endpoint_resolution.RUNTIME_ENV}, or set runtime-endpoint in crictl's config file "
    f"(${endpoint_resolution.CONFIG_ENV}, else {endpoint_resolution.CRICTL_CONFIG})"
)


@dataclass(frozen=True)
class Target:
    """Where to replay: the runtime's endpoints and the options a test run would use."""

    runtime_endpoint: str | None = None
    image_endpoint: str | None = None
    timeout: float = 30.0
    runtime_handler: str = ""


def replay(path: Path, target: Target, say: Callable[[str], None] = print) -> int:
    """Check the property of the spec in ``path``; PASSED, or FAILED with the reason said."""
    spec = spec_files.load(path)
    prop = lookup(spec.property)
    found = endpoint_resolution.resolve(target.runtime_endpoint, target.image_endpoint)
    if found is None:
        raise EndpointError(NO_ENDPOINT)
    endpoint_resolution.check_sockets(found)
    client = CriClient(found, target.timeout)
    try:
        client.connect()
        run_id = new_run_id()
        with tempfile.TemporaryDirectory(prefix="cri-conformance-replay-") as scratch:
            owner = Owner(run_id, f"replay {path}", f"{scratch}/logs", f"{scratch}/volumes")
            name = spec.pod.metadata.name or "pod"
            spec = spec.owned_by(run_id, owner.test).moved_to(
                owner.volume_root, f"{owner.log_root}/{name}"
            )
            outcome = _check(lambda: _run(client, owner, target, spec, prop.check))
            swept = _sweep(client, RunOwnership(run_id), say)
    finally:
        client.close()
    verdict = "PASS" if outcome is None else f"FAIL: {outcome}"
    say(f"{prop.name} ({prop.feature}) on {found.runtime}: {verdict}")
    return PASSED if outcome is None and swept else FAILED


def _sweep(client: CriClient, ownership: RunOwnership, say: Callable[[str], None]) -> bool:
    """Remove what the replay left, as the end of a test run does; True when all was clean."""
    try:
        found = sweep(client, ownership)
    except CriError as error:
        say(f"FAIL: the sweep could not list what the replay left on the runtime: {error}")
        return False
    for foreign in found.left_alone:
        say(
            f"SAFETY WARNING: the runtime listed an object that is not the replay's; left alone: "
            f"{foreign.describe()}"
        )
    for leak in found.leaks:
        say(f"LEAK {leak.describe()}")
    return not found.leaks and not found.left_alone


def _run(
    client: CriClient,
    owner: Owner,
    target: Target,
    spec: spec_files.Spec,
    check: Callable[..., None],
) -> None:
    with lab(client, ImagePuller(client), owner, target.runtime_handler) as scope:
        check(scope, spec)


def _check(run: Callable[[], None]) -> str | None:
    """None when the property held, else what broke it."""
    try:
        run()
    except AssertionError as failure:
        return str(failure) or type(failure).__name__
    except CriError as error:  # a refusal, a call never answered, an answer that is no answer
        if isinstance(error, CallFailed) and error.code is grpc.StatusCode.UNIMPLEMENTED:
            return f"unsupported by the runtime: {error}"
        return str(error)
    return None
