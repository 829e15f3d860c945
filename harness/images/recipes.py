"""Test-image recipes: small TOML files in ``fixtures/images/`` that describe one image each.

A recipe names the image, its tags, its OCI config (entrypoint, cmd, env, user, ...) and the
files it adds on top of a static busybox. Recipes are data so people can add an image
without touching code.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.package_data import fixtures_dir


class RecipeError(Exception):
    """A recipe file that cannot be used; the message names the file and the field."""


def recipes_dir() -> Path:
    return fixtures_dir() / "images"


@dataclass(frozen=True)
class ImageFile:
    path: str
    content: str
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Recipe:
    name: str
    tags: tuple[str, ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    passwd: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    files: tuple[ImageFile, ...] = ()

    def fingerprint(self) -> str:
        """Changes whenever the recipe would produce a different image."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


_LIST_FIELDS = ("tags", "entrypoint", "cmd", "env", "exposed_ports", "passwd", "group")
_KNOWN_FIELDS = {*_LIST_FIELDS, "name", "user", "workdir", "labels", "files"}


def _string_list(path: Path, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RecipeError(f"{path}: '{key}' must be a list of strings")
    return tuple(value)


def _image_file(path: Path, index: int, value: object) -> ImageFile:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise RecipeError(f"{path}: files[{index}] needs a 'path' string")
    target = value["path"].lstrip("/")
    if ".." in Path(target).parts:
        raise RecipeError(f"{path}: files[{index}].path must stay inside the image")
    try:
        return ImageFile(
            path=target,
            content=str(value.get("content", "")),
            mode=int(value.get("mode", 0o644)),
            uid=int(value.get("uid", 0)),
            gid=int(value.get("gid", 0)),
        )
    except (TypeError, ValueError) as error:
        raise RecipeError(f"{path}: files[{index}]: {error}") from error


def load_recipe(path: Path) -> Recipe:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: {error}") from error
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        raise RecipeError(f"{path}: unknown field(s) {', '.join(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise RecipeError(f"{path}: 'name' must be a non-empty string")
    lists = {key: _string_list(path, key, data[key]) for key in _LIST_FIELDS if key in data}
    if not lists.get("tags"):
        raise RecipeError(f"{path}: 'tags' must list at least one tag")
    labels = data.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise RecipeError(f"{path}: 'labels' must be a table of strings")
    files = tuple(_image_file(path, i, item) for i, item in enumerate(data.get("files", [])))
    return Recipe(
        name=name,
        user=str(data.get("user", "")),
        workdir=str(data.get("workdir", "")),
        labels=dict(labels),
        files=files,
        **lists,
    )


def load_recipes(directory: Path | None = None) -> dict[str, Recipe]:
    """Every recipe in the folder, by image name."""
    folder = directory or recipes_dir()
    recipes: dict[str, Recipe] = {}
    for path in sorted(folder.glob("*.toml")):
        recipe = load_recipe(path)
        if recipe.name in recipes:
            raise RecipeError(f"{path}: image name {recipe.name!r} is used by another recipe")
        recipes[recipe.name] = recipe
    if not recipes:
        raise RecipeError(f"no image recipes (*.toml) in {folder}")
    return recipes
