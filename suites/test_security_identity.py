"""Who a container's processes run as: run_as_user, run_as_group, run_as_username, the image
USER, supplemental groups, and the user ContainerStatus reports.

The nonroot image has USER 1234:1234 and a passwd entry ``conformance`` for it; the groups
image has users whose groups come from its own /etc/passwd and /etc/group.
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import ContainerFactory, Pod
from harness.identity import IDENTITY, identity, status_user_problem
from harness.images.catalog import ImageCatalog
from harness.probes import exec_ok, read_proc_status
from harness.security import secured, uid

NONROOT = 1234


@pytest.mark.feature("security.run-as-user")
def test_run_as_user_sets_the_uid_of_the_container_process(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=IDENTITY, linux=secured(run_as_user=uid(1001)))
    assert identity(cri, container)[0] == "1001"
    uids = read_proc_status(cri, container)["Uid"].split()
    assert uids == ["1001"] * 4, f"real, effective, saved and fs uids are {uids}"


@pytest.mark.feature("security.run-as-group")
def test_run_as_group_sets_the_primary_gid(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    linux = secured(run_as_user=uid(1001), run_as_group=uid(1002))
    container = make_container(shared_pod, command=IDENTITY, linux=linux)
    user, group, groups = identity(cri, container)
    assert (user, group) == ("1001", "1002")
    assert "1002" in groups


@pytest.mark.feature("security.run-as-group-without-user")
def test_run_as_group_without_a_user_is_refused(
    shared_pod: Pod, make_container: ContainerFactory
) -> None:
    with refused():
        make_container(shared_pod, start=False, linux=secured(run_as_group=uid(1002)))


@pytest.mark.feature("security.image-user")
def test_the_image_user_is_the_default(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(shared_pod, image=images["nonroot"].ref, command=IDENTITY)
    assert identity(cri, container) == (str(NONROOT), str(NONROOT), {str(NONROOT)})


@pytest.mark.feature("security.run-as-user-over-image")
def test_run_as_user_overrides_the_image_user(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(
        shared_pod, image=images["nonroot"].ref, command=IDENTITY, linux=secured(run_as_user=uid(0))
    )
    assert identity(cri, container)[0] == "0"


@pytest.mark.feature("security.run-as-username")
def test_run_as_username_resolves_the_name_in_the_image(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(
        shared_pod,
        image=images["nonroot"].ref,
        command=IDENTITY,
        linux=secured(run_as_username="conformance"),
    )
    assert identity(cri, container)[:2] == (str(NONROOT), str(NONROOT))
    assert exec_ok(cri, container, "id", "-un") == "conformance\n"


@pytest.mark.feature("security.run-as-username-unknown")
def test_a_username_missing_from_the_image_is_refused(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    with refused():
        container = make_container(
            shared_pod, start=False, linux=secured(run_as_username="no-such-user")
        )
        cri.start_container(container.id)


@pytest.mark.feature("security.supplemental-groups")
def test_supplemental_groups_are_added_to_the_process_groups(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    linux = secured(run_as_user=uid(1001), run_as_group=uid(1002), supplemental_groups=[3001, 3002])
    container = make_container(shared_pod, command=IDENTITY, linux=linux)
    assert identity(cri, container)[2] == {"1002", "3001", "3002"}


# The groups image: USER 2345 (`member`, primary gid 2346 in /etc/passwd, listed in groups 5001
# and 5002 in /etc/group) and `loner` 3456 (primary gid 3457, no other group).
MEMBER = ("2345", "2346", {"2346", "5001", "5002"})
LONER = ("3456", "3457", {"3457"})


def assert_groups_from_the_image(
    seen: tuple[str, str, set[str]], expected: tuple[str, str, set[str]]
) -> None:
    assert seen == expected, (
        f"the process runs as uid {seen[0]} gid {seen[1]} groups {sorted(seen[2])}; the image's "
        f"/etc/passwd and /etc/group give gid {expected[1]} groups {sorted(expected[2])}"
    )


# api.proto SupplementalGroupsPolicy Merge (the default): the container's groups are merged "with
# the primary user's groups as defined in the container image (in /etc/group)"; a uid without a
# group runs with its primary gid from the image's /etc/passwd, as the OCI image spec's USER says.


@pytest.mark.feature("security.image-user-groups")
def test_an_image_user_without_a_group_takes_its_groups_from_the_image(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(shared_pod, image=images["groups"].ref, command=IDENTITY)
    assert_groups_from_the_image(identity(cri, container), MEMBER)


@pytest.mark.parametrize(
    ("user", "expected"),
    [pytest.param(2345, MEMBER, id="member"), pytest.param(3456, LONER, id="loner")],
)
@pytest.mark.feature("security.run-as-user-image-groups")
def test_run_as_user_without_a_group_takes_its_groups_from_the_image(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    user: int,
    expected: tuple[str, str, set[str]],
) -> None:
    linux = secured(run_as_user=uid(user))
    container = make_container(
        shared_pod, image=images["groups"].ref, command=IDENTITY, linux=linux
    )
    assert_groups_from_the_image(identity(cri, container), expected)


@pytest.mark.parametrize(
    ("image", "linux"),
    [
        pytest.param(
            "busybox",
            secured(run_as_user=uid(1001), run_as_group=uid(1002), supplemental_groups=[3001]),
            id="run-as-user-and-group",
        ),
        pytest.param("groups", secured(run_as_user=uid(3456)), id="gid-from-image-passwd"),
        pytest.param("groups", None, id="groups-from-image-group"),
    ],
)
@pytest.mark.feature("security.status-user")
def test_status_reports_the_uid_gid_and_groups_the_process_runs_with(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    image: str,
    linux: api.LinuxContainerConfig | None,
) -> None:
    # api.proto ContainerStatus.user: the identities "initially attached to the first process in
    # the container"; the truth is that process: `id` run as its command.
    container = make_container(shared_pod, image=images[image].ref, command=IDENTITY, linux=linux)
    problem = status_user_problem(cri, container, identity(cri, container))
    assert problem is None, problem
