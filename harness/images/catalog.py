"""The test images as the suite sees them: references in the registry the run uses.

The layout comes built with the package (setup.py builds it into the wheel, under
``harness/images/built/<key>``), so a run needs no image tools. Only when the recipes differ
from those it was built from (a checkout being edited, or another fixtures folder) is it
built again, into the user's cache, which needs the pinned busybox .debs (busybox.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.images import oci
from harness.images.builder import (
    BuiltImage,
    build_into,
    default_cache_dir,
    layout_key,
    read_layout,
)
from harness.images.recipes import load_recipes
from harness.images.registry import push, repository


@dataclass(frozen=True)
class TestImage:
    """One recipe image, reachable by tag or by digest in ``registry``."""

    __test__ = False  # not a pytest test class, despite the name

    built: BuiltImage
    registry: str

    @property
    def name(self) -> str:
        return self.built.recipe.name

    @property
    def repository(self) -> str:
        return repository(self.registry, self.name)

    @property
    def tags(self) -> tuple[str, ...]:
        return self.built.tags

    @property
    def ref(self) -> str:
        """The reference by the recipe's first tag."""
        return self.tag_ref(self.tags[0])

    def tag_ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"

    @property
    def digest_ref(self) -> str:
        return f"{self.repository}@{self.built.digest}"

    @property
    def manifest_digest(self) -> str:
        """The digest the tags name: the image index over the platforms, which runtimes
        report as the repo digest."""
        return self.built.digest

    @property
    def config_digest(self) -> str:
        """The image id most runtimes report (the digest of the image config)."""
        return self.built.config_digest

    @property
    def user(self) -> str:
        return self.built.recipe.user


class ImageCatalog:
    """Every recipe image, by name: ``catalog["busybox"].ref``."""

    def __init__(self, images: dict[str, TestImage]) -> None:
        self._images = images

    def __getitem__(self, name: str) -> TestImage:
        try:
            return self._images[name]
        except KeyError:
            known = ", ".join(sorted(self._images))
            raise KeyError(f"no test image {name!r}; recipes define: {known}") from None

    def __iter__(self) -> Iterator[TestImage]:
        return iter(self._images.values())

    @property
    def busybox(self) -> TestImage:
        return self["busybox"]

    @property
    def pause(self) -> TestImage:
        return self["pause"]


SHIPPED = "built"  # the package folder (of harness.images) holding the built layouts


def shipped_layout(key: str) -> Path:
    return Path(__file__).resolve().parent / SHIPPED / key


def build_all(cache_dir: Path | None = None) -> list[BuiltImage]:
    """Every recipe's image: from the package's layout, else built into the cache."""
    recipes = load_recipes()
    key = layout_key(recipes)
    if oci.Layout(shipped_layout(key)).exists():
        return list(read_layout(recipes, shipped_layout(key)).values())
    return build(cache_dir)


def build(directory: Path | None = None) -> list[BuiltImage]:
    """Every recipe's image, built into ``directory/KEY`` (the cache by default) unless a
    layout of that key is there already."""
    recipes = load_recipes()
    root = (directory or default_cache_dir()) / layout_key(recipes)
    return list(build_into(recipes, root).values())


def prepare(registry: str, publish: bool, cache_dir: Path | None = None) -> ImageCatalog:
    """Every recipe's image and, when ``publish``, pushed to ``registry``."""
    images = {}
    for built in build_all(cache_dir):
        if publish:
            push(built, registry)
        images[built.recipe.name] = TestImage(built, registry)
    return ImageCatalog(images)
