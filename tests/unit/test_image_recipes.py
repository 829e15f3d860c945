"""Image recipes: parsing with clear errors, and a builder that is reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.images.builder import build_layout
from harness.images.recipes import RecipeError, load_recipe, load_recipes, recipes_dir


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "image.toml"
    path.write_text(text)
    return path


def test_every_shipped_recipe_loads() -> None:
    recipes = load_recipes(recipes_dir())
    assert {"busybox", "webserver", "nonroot", "twotags", "pause"} <= set(recipes)
    assert len(recipes["twotags"].tags) == 2


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('tags = ["1"]', "'name'"),
        ('name = "x"', "'tags'"),
        ('name = "x"\ntags = "1"', "'tags' must be a list"),
        ('name = "x"\ntags = ["1"]\ncolour = "red"', "unknown field"),
        ('name = "x"\ntags = ["1"]\n[[files]]\ncontent = "a"', "files\\[0\\]"),
        ('name = "x"\ntags = ["1"]\n[[files]]\npath = "../escape"', "inside the image"),
        ('name = "x"\ntags = [', "image.toml"),
    ],
)
def test_a_bad_recipe_is_refused_naming_the_file_and_field(
    tmp_path: Path, text: str, complaint: str
) -> None:
    with pytest.raises(RecipeError, match=complaint):
        load_recipe(write(tmp_path, text))


def test_building_a_recipe_twice_gives_the_same_digest(tmp_path: Path) -> None:
    recipe = load_recipes()["nonroot"]
    first = build_layout(recipe, tmp_path / "one")
    second = build_layout(recipe, tmp_path / "two")
    assert first.manifest_digest == second.manifest_digest
    assert first.config_digest == second.config_digest


def test_the_built_config_is_what_the_recipe_says(tmp_path: Path) -> None:
    recipe = load_recipes()["entrypoint"]
    built = build_layout(recipe, tmp_path / "layout")
    blob = built.layout / "blobs" / "sha256" / built.config_digest.removeprefix("sha256:")
    config = json.loads(blob.read_text())["config"]
    assert config["Entrypoint"] == list(recipe.entrypoint)
    assert config["Cmd"] == list(recipe.cmd)
    assert config["WorkingDir"] == recipe.workdir
    assert config["Env"] == list(recipe.env)
    index = json.loads((built.layout / "index.json").read_text())
    tags = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    assert tags == set(recipe.tags)
