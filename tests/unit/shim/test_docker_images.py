"""Docker image-store pieces, against a stand-in for the Docker SDK that counts its calls."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests

from reference_shim.backends.docker.images import DockerImages
from reference_shim.backends.filesystems import count_inodes

REGISTRY = "127.0.0.1:5000/bench"


def _image_id(number: int) -> str:
    return f"sha256:{number:064x}"


class CountingEngine:
    """Images as Docker's API shows them (list entries without config, inspects with it);
    every call is counted by name."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.configs: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, list[str]] = {}
        self.gone_on_inspect: set[str] = set()
        self.removal_answer: Exception | None = None

    def add(self, number: int, *tags: str, user: str = "") -> str:
        """An image made behind the shim's back (docker pull, docker tag)."""
        image_id = _image_id(number)
        self.configs[image_id] = {"User": user, "Entrypoint": None, "Cmd": ["sh", str(number)]}
        self.tags[image_id] = list(tags)
        return image_id

    def _entry(self, image_id: str) -> dict[str, Any]:
        return {
            "Id": image_id,
            "RepoTags": self.tags[image_id] or ["<none>:<none>"],
            "RepoDigests": ["<none>@<none>"],
            "Size": 1000 + len(self.tags[image_id]),
        }

    def _resolve(self, reference: str) -> str:
        for image_id, tags in self.tags.items():
            if reference == image_id or reference in tags:
                return image_id
        raise docker.errors.NotFound(f"No such image: {reference}")

    def images(self) -> list[dict[str, Any]]:
        self.calls["images"] += 1
        return [self._entry(image_id) for image_id in self.tags]

    def inspect_image(self, reference: str) -> dict[str, Any]:
        self.calls["inspect_image"] += 1
        image_id = self._resolve(reference)
        if image_id in self.gone_on_inspect:  # removed by someone else since the list
            del self.tags[image_id]
            raise docker.errors.NotFound(f"No such image: {reference}")
        entry = self._entry(image_id)
        entry["RepoTags"] = self.tags[image_id]
        entry["RepoDigests"] = []
        return {**entry, "Config": self.configs[image_id]}

    def pull(self, repository: str, tag: str, auth_config: Any) -> str:
        self.calls["pull"] += 1
        number = len(self.configs) + 1000
        self.add(number, f"{repository}:{tag}")
        return ""

    def remove_image(self, image_id: str, force: bool) -> None:
        self.calls["remove_image"] += 1
        if self.removal_answer is not None:
            raise self.removal_answer
        del self.tags[self._resolve(image_id)]


@pytest.fixture
def engine() -> CountingEngine:
    return CountingEngine()


@pytest.fixture
def images(engine: CountingEngine) -> DockerImages:
    return DockerImages(engine)  # type: ignore[arg-type]  # duck-typed SDK client


def _pull(images: DockerImages, count: int) -> None:
    for number in range(count):
        images.pull(f"{REGISTRY}/image-{number}:1", "", "")


@pytest.mark.parametrize("count", [10, 500])
def test_list_images_makes_one_engine_call_whatever_the_image_count(
    engine: CountingEngine, images: DockerImages, count: int
) -> None:
    _pull(images, count)
    engine.calls.clear()
    assert len(images.list_images()) == count
    assert len(images.list_images()) == count
    assert engine.calls == Counter(images=2)


def test_images_made_behind_the_shims_back_are_inspected_once(
    engine: CountingEngine, images: DockerImages
) -> None:
    for number in range(20):
        engine.add(number, f"{REGISTRY}/outside-{number}:1")
    images.list_images()
    assert engine.calls == Counter(images=1, inspect_image=20)
    engine.calls.clear()
    images.list_images()
    assert engine.calls == Counter(images=1)


def test_a_listed_image_is_what_its_status_says(
    engine: CountingEngine, images: DockerImages
) -> None:
    engine.add(1, f"{REGISTRY}/a:1", f"{REGISTRY}/b:2", user="1000:1000")
    engine.add(2)  # untagged
    listed = {info.id: info for info in images.list_images()}
    assert listed == {image_id: images.get(image_id) for image_id in engine.tags}
    assert listed[_image_id(1)].user == "1000:1000"
    assert listed[_image_id(2)].repo_tags == ()


def test_tags_moved_behind_the_shims_back_are_listed_as_they_are_now(
    engine: CountingEngine, images: DockerImages
) -> None:
    first = engine.add(1, f"{REGISTRY}/app:1")
    images.list_images()
    second = engine.add(2, f"{REGISTRY}/app:1")  # docker pull moved the tag
    engine.tags[first] = [f"{REGISTRY}/old:1"]  # docker tag, docker rmi of the old name
    listed = {info.id: info.repo_tags for info in images.list_images()}
    assert listed == {first: (f"{REGISTRY}/old:1",), second: (f"{REGISTRY}/app:1",)}


def test_images_removed_behind_the_shims_back_leave_the_cache(
    engine: CountingEngine, images: DockerImages
) -> None:
    kept, removed = engine.add(1, "a:1"), engine.add(2, "b:1")
    images.list_images()
    del engine.tags[removed]
    assert [info.id for info in images.list_images()] == [kept]
    assert images.configs.get(removed) is None
    assert len(images.configs) == 1


def test_an_image_removed_between_the_list_and_its_inspect_is_left_out(
    engine: CountingEngine, images: DockerImages
) -> None:
    engine.add(1, "a:1")
    vanishing = engine.add(2, "b:1")
    engine.gone_on_inspect.add(vanishing)
    assert [info.id for info in images.list_images()] == [_image_id(1)]


def test_a_pull_keeps_the_pulled_images_config(
    engine: CountingEngine, images: DockerImages
) -> None:
    info = images.pull(f"{REGISTRY}/app:1", "", "")
    assert engine.calls == Counter(pull=1, inspect_image=1)
    assert images.configs.get(info.id) is not None


def test_a_removal_forgets_the_config_and_does_not_wait_after_dockers_yes(
    engine: CountingEngine, images: DockerImages
) -> None:
    image_id = engine.add(1, "a:1")
    images.list_images()
    engine.calls.clear()
    images.remove(image_id)
    assert engine.calls == Counter(remove_image=1)
    assert images.configs.get(image_id) is None
    assert images.list_images() == []


@pytest.mark.parametrize(
    "answer",
    [
        docker.errors.NotFound("No such image"),
        docker.errors.APIError(
            "500", requests.Response(), explanation="unrecognized image ID sha256:..."
        ),
    ],
)
def test_a_removal_someone_else_got_to_first_waits_for_the_image_to_go(
    engine: CountingEngine, images: DockerImages, answer: Exception
) -> None:
    image_id = engine.add(1, "a:1")
    engine.removal_answer = answer
    del engine.tags[image_id]  # the other removal's work
    images.remove(image_id)
    assert engine.calls == Counter(remove_image=1, inspect_image=1)


def test_layer_inodes_count_every_entry_below_the_driver_folder(tmp_path: Path) -> None:
    (tmp_path / "layer" / "diff" / "bin").mkdir(parents=True)
    (tmp_path / "layer" / "diff" / "bin" / "busybox").write_text("")
    (tmp_path / "layer" / "diff" / "bin" / "sh").symlink_to("busybox")
    assert count_inodes(tmp_path) == 6
    assert count_inodes(tmp_path / "missing") == 0
