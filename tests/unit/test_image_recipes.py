"""Image recipes: parsing with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

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
