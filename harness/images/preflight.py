"""Before the first test: can the runtime pull the test images from the run's registry?

When it cannot (a plain-HTTP registry the runtime reaches over HTTPS, a registry without the
images, one it cannot reach at all), every test that needs an image would fail on its own,
each with the same pull error. One pull of the default image at session start turns that into
one error that names the registry, the runtime's answer and the fix.
"""

from __future__ import annotations

import grpc

from harness.client import CallFailed, CriClient, CriError
from harness.images.catalog import TestImage
from harness.images.distribution import base_url
from harness.images.registry import answers


class PreflightFailed(Exception):
    """The runtime could not pull the default test image; the message says what to do."""


def containerd_fix(registry: str) -> str:
    return (
        "containerd pulls over HTTPS unless its config says otherwise. For a plain-HTTP "
        f'registry, add to its config (version 2): [plugins."io.containerd.grpc.v1.cri".'
        f'registry.mirrors."{registry}"] endpoint = ["http://{registry}"]; or, with '
        f"registry config_path (containerd 1.7, 2.x), a file certs.d/{registry}/hosts.toml "
        f'holding server = "http://{registry}" and [host."http://{registry}"] '
        'capabilities = ["pull", "resolve"] (read at each pull; a change to the config '
        "itself needs a restart of containerd)."
    )


def crio_fix(registry: str) -> str:
    return (
        "CRI-O pulls over HTTPS unless registries.conf says otherwise: for a plain-HTTP "
        f'registry add [[registry]] location = "{registry}" insecure = true, then restart CRI-O.'
    )


FIXES = {"containerd": containerd_fix, "cri-o": crio_fix}


def advice(runtime_name: str, registry: str) -> str:
    """What to do, for the runtime under test (its CRI runtime_name)."""
    if not answers(registry):
        return (
            f"Nothing answers at {base_url(registry)}/v2/ from this machine either: start the "
            f"registry, or give --cri-image-registry one that holds the test images "
            f"(cri-conformance images push --to {registry} puts them there)."
        )
    held = (
        f"The registry answers here; it must hold the test images (cri-conformance images "
        f"push --to {registry}) and the runtime must reach it."
    )
    fix = FIXES.get(runtime_name.lower())
    return f"{held} {fix(registry)}" if fix else held


def check_pull(client: CriClient, image: TestImage, runtime_name: str) -> None:
    """Pull ``image`` once; raise PreflightFailed with the whole story when the runtime cannot.

    Only a pull the runtime refused with an error status stops the run: that is the registry
    story above. A PullImage that is not implemented, never answers, or answers bytes that are
    not a PullImageResponse is the runtime's own conformance failure of PullImage, which the
    image tests record and the verdict counts; stopping the run would hide it.
    """
    try:
        client.pull_image(image.ref)
    except CriError as error:
        if not isinstance(error, CallFailed) or error.code is grpc.StatusCode.UNIMPLEMENTED:
            return
        raise PreflightFailed(
            f"the runtime ({runtime_name or 'unnamed'} at {client.endpoints.runtime}) cannot "
            f"pull the test image {image.ref} from registry {image.registry}: it answered: "
            f"{error}. {advice(runtime_name, image.registry)}"
        ) from None
