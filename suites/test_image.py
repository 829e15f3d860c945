"""Images: pulling (by tag, digest, without a tag), status, list, identity, filesystem info, USER.

The expected ids and digests come from the test images' own build (``images[...]``), so a
runtime is checked against what the registry really holds, not against itself. Tests that need
an image to be absent first use images of their own (``absent_image``); the shared images are
only ever pulled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.expect import refused
from harness.factories import Container, ContainerFactory, Pod
from harness.image_store import listed, present, pull_and_status
from harness.images.catalog import ImageCatalog, TestImage
from harness.probes import exec_ok, writable_layer_in
from harness.verbose_info import assert_json_values

AbsentImage = Callable[[str], TestImage]


@pytest.mark.feature("image.pull.by-tag")
def test_an_image_pulled_by_tag_is_present_under_that_tag(
    cri: CriClient, absent_image: AbsentImage
) -> None:
    image = absent_image("removable-pull")
    image_ref, status = pull_and_status(cri, image.ref)
    assert status.id == image.config_digest
    assert list(status.repo_tags) == [image.ref]
    assert image.digest_ref in status.repo_digests
    assert image_ref == status.id, "PullImage image_ref differs from the ImageStatus id"


@pytest.mark.feature("image.pull.by-digest")
def test_an_image_pulled_by_digest_is_present_under_that_digest_without_tags(
    cri: CriClient, absent_image: AbsentImage
) -> None:
    image = absent_image("removable-digest")
    _, status = pull_and_status(cri, image.digest_ref)
    assert status.id == image.config_digest
    assert list(status.repo_digests) == [image.digest_ref]
    assert list(status.repo_tags) == [], "an image pulled only by digest has no tag"


@pytest.mark.feature("image.pull.without-tag")
def test_an_image_pulled_without_a_tag_is_tagged_latest(
    cri: CriClient, absent_image: AbsentImage
) -> None:
    image = absent_image("removable-latest")
    latest = image.tag_ref("latest")
    _, status = pull_and_status(cri, image.repository, latest)
    assert status.id == image.config_digest
    assert list(status.repo_tags) == [latest]


@pytest.mark.feature("image.pull.missing")
def test_pulling_an_image_the_registry_lacks_fails_and_adds_nothing(
    cri: CriClient, images: ImageCatalog
) -> None:
    missing = images.busybox.tag_ref("cri-conformance-missing")
    with refused():
        cri.pull_image(missing)
    assert present(cri, missing) is None


@pytest.mark.feature("image.status.fields")
def test_image_status_reports_id_tags_digests_and_size(
    cri: CriClient, images: ImageCatalog
) -> None:
    image = images["webserver"]
    _, status = pull_and_status(cri, image.ref)
    assert status.id == image.config_digest, (
        f"ImageStatus.id {status.id} is not the image's config digest {image.config_digest}"
    )
    assert image.ref in status.repo_tags
    assert image.digest_ref in status.repo_digests
    assert status.size > 0


@pytest.mark.feature("image.status.all-references")
def test_image_status_is_the_same_by_id_tag_and_digest(
    cri: CriClient, images: ImageCatalog
) -> None:
    image = images["webserver"]
    _, by_tag = pull_and_status(cri, image.ref)
    for ref in [by_tag.id, *by_tag.repo_tags, *by_tag.repo_digests]:
        assert present(cri, ref) == by_tag, f"ImageStatus({ref}) differs from ImageStatus by tag"


@pytest.mark.feature("image.status.missing")
def test_status_of_a_missing_image_is_empty_not_an_error(
    cri: CriClient, images: ImageCatalog
) -> None:
    response = cri.image_status(images.busybox.tag_ref("cri-conformance-missing"))
    assert not response.HasField("image"), f"ImageStatus of a missing image: {response.image}"


@pytest.mark.feature("image.status.verbose")
def test_verbose_image_status_carries_json_info_and_plain_status_does_not(
    cri: CriClient, images: ImageCatalog
) -> None:
    ref = images.busybox.ref
    cri.pull_image(ref)
    info = cri.image_status(ref, verbose=True).info
    assert info, "ImageStatus(verbose=true) returned no info"
    assert_json_values("ImageStatus", info)
    assert not cri.image_status(ref).info, "ImageStatus(verbose=false) must not return info"


@pytest.mark.feature("image.status.user-uid")
def test_image_status_reports_a_numeric_user_as_uid(cri: CriClient, images: ImageCatalog) -> None:
    image = images["nonroot"]  # USER 1234:1234
    _, status = pull_and_status(cri, image.ref)
    assert status.HasField("uid"), "ImageStatus has no uid for an image whose USER is 1234:1234"
    assert (status.uid.value, status.username) == (1234, "")


@pytest.mark.feature("image.status.username")
def test_image_status_reports_a_user_name_as_username(cri: CriClient, images: ImageCatalog) -> None:
    image = images["named-user"]  # USER conformance
    _, status = pull_and_status(cri, image.ref)
    assert status.username == "conformance"
    assert not status.HasField("uid"), f"uid {status.uid.value} set for a USER given by name"


@pytest.mark.feature("image.list.entry")
def test_list_images_has_an_entry_equal_to_the_image_status(
    cri: CriClient, images: ImageCatalog
) -> None:
    image = images["webserver"]
    _, status = pull_and_status(cri, image.ref)
    assert listed(cri, status.id) == status


@pytest.mark.feature("image.list.filter")
def test_list_images_filtered_by_a_reference_returns_only_that_image(
    cri: CriClient, images: ImageCatalog
) -> None:
    wanted, other = images["webserver"], images.busybox
    cri.pull_image(wanted.ref)
    cri.pull_image(other.ref)
    ids = {item.id for item in cri.list_images(wanted.ref)}
    assert ids == {wanted.config_digest}, (
        f"ListImages(filter={wanted.ref}) returned {len(ids)} images, expected only "
        f"{wanted.config_digest}; {other.ref} among them: {other.config_digest in ids}"
    )


@pytest.mark.feature("image.tags.shared-id")
def test_two_tags_of_one_image_are_one_entry_with_both_tags(
    cri: CriClient, images: ImageCatalog
) -> None:
    image = images["twotags"]
    refs = [image.tag_ref(tag) for tag in image.tags]
    pulled = {cri.pull_image(ref) for ref in refs}
    assert pulled == {image.config_digest}, f"PullImage of {refs} returned {pulled}"
    entry = listed(cri, image.config_digest)
    assert entry is not None, f"ListImages has no image {image.config_digest}"
    # The runtime may hold the same image under other names too (pulled from another registry
    # that serves the same bytes, such as an earlier run's): those are its right.
    ours = sorted(tag for tag in entry.repo_tags if tag.startswith(f"{image.repository}:"))
    assert ours == sorted(refs), f"the entry's tags are {list(entry.repo_tags)}"


@pytest.mark.feature("image.id.in-containers")
def test_containers_report_the_image_id_of_their_image(
    cri: CriClient, shared_container: Container, images: ImageCatalog
) -> None:
    expected = images.busybox.config_digest
    status_id = cri.container_status(shared_container.id).status.image_id
    (entry,) = cri.list_containers(api.ContainerFilter(id=shared_container.id))
    assert (status_id, entry.image_id) == (expected, expected), (
        f"ContainerStatus.image_id {status_id!r} and Container.image_id {entry.image_id!r} "
        f"should both be the image id {expected}"
    )


@pytest.mark.feature("image.fs-info")
def test_image_fs_info_reports_the_image_filesystem_usage(cri: CriClient) -> None:
    filesystems = cri.image_fs_info().image_filesystems
    assert filesystems, "ImageFsInfo returned no image filesystem"
    for usage in filesystems:
        assert usage.fs_id.mountpoint, f"no mountpoint: {usage}"
        assert usage.used_bytes.value > 0, f"used_bytes is 0 with images present: {usage}"
        assert usage.inodes_used.value > 0, f"inodes_used is 0 with images present: {usage}"
        assert 0 < usage.timestamp <= time.time_ns() + 5 * 10**9, f"bad timestamp: {usage}"


@pytest.mark.feature("image.fs-info.container-filesystems")
def test_the_writable_layer_lies_on_a_reported_container_filesystem(
    cri: CriClient, shared_container: Container
) -> None:
    # api.proto ImageFsInfoResponse.container_filesystems: "Information of container
    # filesystem(s) ... Default will be to return this as empty", and then the kubelet counts
    # the writable layers on the image filesystem. The container's own mount table says where
    # its writable layer is (the upperdir of its overlay root).
    layer = writable_layer_in(cri, shared_container)
    if layer is None or not Path(layer).is_dir():
        pytest.skip(
            f"the container's root is no overlay with an upperdir on this host ({layer}): its "
            "writable layer cannot be located from inside"
        )
    answer = cri.image_fs_info()
    reported = answer.container_filesystems or answer.image_filesystems
    which = "container_filesystems" if answer.container_filesystems else "image_filesystems"
    mountpoints = [usage.fs_id.mountpoint for usage in reported]
    assert any(Path(layer).resolve().is_relative_to(Path(m).resolve()) for m in mountpoints), (
        f"the writable layer {layer} is under none of the {which} ImageFsInfo reports: "
        f"{mountpoints}"
    )
    for usage in answer.container_filesystems:
        assert usage.used_bytes.value > 0, f"used_bytes is 0 with a container running: {usage}"
        assert 0 < usage.timestamp <= time.time_ns() + 5 * 10**9, f"bad timestamp: {usage}"


@pytest.mark.feature("image.user.uid")
def test_a_container_runs_as_the_uid_in_the_image_user(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(shared_pod, image=images["nonroot"].ref)
    assert exec_ok(cri, container.id, "id", "-u").strip() == "1234"
    assert exec_ok(cri, container.id, "id", "-g").strip() == "1234"


@pytest.mark.feature("image.user.name")
def test_a_container_runs_as_the_user_named_in_the_image(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(shared_pod, image=images["named-user"].ref)
    assert exec_ok(cri, container.id, "id", "-un").strip() == "conformance"
    assert exec_ok(cri, container.id, "id", "-u").strip() == "1234"
