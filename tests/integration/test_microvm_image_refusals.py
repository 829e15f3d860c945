"""The microvm backend's pulls, refused by a real registry through skopeo, keep the fault's code:
an image the registry does not hold is NOT_FOUND and a reference that does not parse is
INVALID_ARGUMENT, as containerd and Docker answer; neither is the shim's own bug (INTERNAL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_shim.backends.microvm.images import MicrovmImages
from reference_shim.errors import InvalidArgument, NotFound, ShimError


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("absent:1", NotFound),
        ("busybox@sha256:" + "0" * 64, NotFound),
        ("UPPER:1", InvalidArgument),
        ("twice:1:2", InvalidArgument),
    ],
)
def test_a_refused_pull_says_whose_fault_it_is(
    tmp_path: Path, private_registry: str, name: str, error: type[ShimError]
) -> None:
    reference = f"{private_registry}/cri-conformance/{name}"
    with pytest.raises(error, match=r"pull|inspect") as refused:
        MicrovmImages(tmp_path).pull(reference, "", "")
    assert type(refused.value) is error, refused.value
