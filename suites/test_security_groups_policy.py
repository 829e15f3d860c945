"""Supplemental groups policy (api.proto SupplementalGroupsPolicy): Merge adds the image user's
/etc/group memberships to the listed groups, Strict gives the listed groups only.

The groups image's user 2345 (``member``) has primary gid 2346 in its /etc/passwd and is listed
in groups 5001 and 5002 in its /etc/group. Strict is asked for only where Status advertises
``supplemental_groups_policy``, which also promises ContainerStatus.user (harness.advertised).
"""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from cri_api.v1 import api_pb2 as api

from harness.advertised import Flag, advertisement, asking_for
from harness.client import CriClient
from harness.factories import ContainerFactory, Pod, PodFactory
from harness.identity import IDENTITY, identity, status_user_problem
from harness.images.catalog import ImageCatalog
from harness.security import secured, uid

MEMBER = 2345
LISTED = 3001
MERGED = {"2346", "5001", "5002", str(LISTED)}
STRICT = {"2346", str(LISTED)}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(
            api.Merge, MERGED, id="merge",
            marks=pytest.mark.feature("security.supplemental-groups-policy.merge"),
        ),
        pytest.param(
            api.Strict, STRICT, id="strict",
            marks=pytest.mark.feature("security.supplemental-groups-policy.strict"),
        ),
    ],
)  # fmt: skip
def test_the_groups_policy_decides_whether_the_image_groups_are_added(
    cri: CriClient,
    make_pod: PodFactory,
    shared_pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    policy: int,
    expected: set[str],
) -> None:
    # api.proto SupplementalGroupsPolicy: Merge: the provided groups "will be merged with the
    # primary user's groups as defined in the container image (in /etc/group)"; Strict: "will be
    # used instead of any groups defined in the container image". The gid stays the image's.
    advert = advertisement(cri, Flag.SUPPLEMENTAL_GROUPS_POLICY)
    linux = secured(
        run_as_user=uid(MEMBER), supplemental_groups=[LISTED], supplemental_groups_policy=policy
    )
    if policy == api.Strict:  # a refusal excuses only Strict: the same container under Merge runs
        merged = secured(run_as_user=uid(MEMBER), supplemental_groups=[LISTED])
        make_container(shared_pod, image=images["groups"].ref, linux=merged)
    pod = make_pod() if policy == api.Strict else shared_pod
    # Merge is the default (0 on the wire): every runtime does it, advertised or not.
    with asking_for(advert) if policy == api.Strict else nullcontext():
        container = make_container(pod, image=images["groups"].ref, command=IDENTITY, linux=linux)
    seen = identity(cri, container)
    assert seen == (str(MEMBER), "2346", expected), (
        f"under {api.SupplementalGroupsPolicy.Name(policy)} ({advert.describe()}) the process "  # type: ignore[arg-type]
        f"runs as uid {seen[0]} gid {seen[1]} groups {sorted(seen[2])}, expected gid 2346 "
        f"groups {sorted(expected)}"
    )
    # RuntimeFeatures.supplemental_groups_policy: "the runtime supports SupplementalGroupsPolicy
    # and ContainerUser": advertised, the user must be reported; reported, it must be true.
    problem = status_user_problem(cri, container, seen)
    if advert.advertised or problem != "ContainerStatus.user is not set":
        assert problem is None, f"{problem} ({advert.describe()})"
