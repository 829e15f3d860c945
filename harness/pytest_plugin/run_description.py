"""What a run tests, in words: the pytest header before it starts, a summary line at the end.

The header names the endpoint and where it came from (or the embedded shim, with any runtime
socket seen in its usual place, in case that was meant), the harness version and the profile.
The runtime's own name and version are known once it answered, so the end of the run says them.
"""

from __future__ import annotations

import json

from harness.cli import version
from harness.endpoints import EndpointError, sockets_in_usual_places
from harness.matrix.profiles import Profile
from harness.pytest_plugin.session import Settings, given_endpoints


def header_lines(settings: Settings, profile: Profile | None) -> list[str]:
    profile_text = f"profile {profile.name}" if profile else "no runtime profile"
    head = f"cri-conformance {version()}: "
    try:
        endpoints = given_endpoints(settings)
    except EndpointError as error:
        return [f"{head}{error}"]
    if endpoints is not None:
        image = "" if endpoints.image == endpoints.runtime else f", images at {endpoints.image}"
        return [
            f"{head}testing {endpoints.runtime} (from {endpoints.source}){image}; {profile_text}"
        ]
    shim = settings.shim
    lines = [
        f"{head}no endpoint given (--cri-endpoint, $CONTAINER_RUNTIME_ENDPOINT, ini cri_endpoint, "
        f"crictl's config file): testing the embedded reference shim (strategy {shim.strategy}, "
        f"backend {shim.resolved_backend}); {profile_text}"
    ]
    lines += [
        f"cri-conformance: a runtime socket exists at {socket}; to test that runtime instead, "
        f"give --cri-endpoint {socket}"
        for socket in sockets_in_usual_places()
    ]
    return lines


def closing_line(settings: Settings, profile: Profile | None) -> str | None:
    """``tested containerd 1.6.20 (CRI v1) at ... (from ...); profile ...``, once connected."""
    if not settings.endpoints_record.exists():
        return None
    record = json.loads(settings.endpoints_record.read_text())
    found = record.get("version", {})
    runtime = " ".join(
        part for part in (found.get("runtime_name"), found.get("runtime_version")) if part
    )
    api = found.get("runtime_api_version")
    profile_text = f"profile {profile.name}" if profile else "no runtime profile"
    return (
        f"cri-conformance: tested {runtime or 'a runtime'}{f' (CRI {api})' if api else ''} at "
        f"{record['runtime']} (from {record.get('source', 'unknown')}); {profile_text}"
    )
