"""The image builder: one layout, both architectures, the same bytes on every build.

Builds from the pinned busybox-static .debs (scripts/fetch-deb fetches them once, then they
come from its cache).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import TypedDict

import pytest

from harness.cli import main
from harness.images import busybox, oci, tarball
from harness.images.builder import BuiltImage, build_into, layout_key, reference
from harness.images.recipes import load_recipes

# The digests every machine must build from the shipped recipes and the pinned busybox. When
# a recipe or the pin changes on purpose, these change with it (and the layout key too).
BUSYBOX_INDEX = "sha256:5759453366f3228490e7132001e81610eb01ba83078e47e4cff575ac2711b5be"
BUSYBOX_CONFIGS = {
    "amd64": "sha256:56e6724f4f9633e6544a0532e0bcbd0e3b7b86920724de9fdf81928c759e933d",
    "arm64": "sha256:79f58c2d54e8a24a3ccc7117a3aa4ea7a04b04e47c11221924d6cdb2e10d0c6f",
}
LONG = "deep/" + "x" * 60 + "/" + "y" * 60
ELF_MACHINE = {"amd64": 0x3E, "arm64": 0xB7}  # e_machine of x86-64 and AArch64


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltImage]:
    return build_into(load_recipes(), tmp_path_factory.mktemp("images") / "layout")


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def layer_members(layout: oci.Layout, digest: str) -> dict[str, tarfile.TarInfo]:
    data = layout.blob_path(digest).read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {member.name: member for member in archive.getmembers()}


class BlobReference(TypedDict):
    """A descriptor in an OCI manifest's JSON: the field these tests read."""

    digest: str


class Manifest(TypedDict):
    """An OCI image manifest's JSON: the fields these tests read."""

    config: BlobReference
    layers: list[BlobReference]


def platform_manifests(layout: oci.Layout, image: BuiltImage) -> dict[str, Manifest]:
    index = layout.read_json(image.digest)
    assert index["mediaType"] == oci.INDEX
    return {
        entry["platform"]["architecture"]: layout.read_json(entry["digest"])
        for entry in index["manifests"]
        if entry["platform"]["os"] == "linux"
    }


def test_two_builds_write_identical_layouts_with_the_pinned_digests(
    built: dict[str, BuiltImage], tmp_path: Path
) -> None:
    again = build_into(load_recipes(), tmp_path / "again")
    assert {n: (i.digest, i.config_digests) for n, i in again.items()} == {
        n: (i.digest, i.config_digests) for n, i in built.items()
    }
    assert files_of(tmp_path / "again") == files_of(built["busybox"].layout)
    assert built["busybox"].digest == BUSYBOX_INDEX
    assert built["busybox"].config_digests == BUSYBOX_CONFIGS


def test_every_tag_names_an_index_of_linux_amd64_and_arm64(built: dict[str, BuiltImage]) -> None:
    layout = oci.Layout(built["busybox"].layout)
    tags = layout.tags()
    recipes = load_recipes()
    assert set(tags) == {reference(r, tag) for r in recipes.values() for tag in r.tags}
    for image in built.values():
        manifests = platform_manifests(layout, image)
        assert set(manifests) == {"amd64", "arm64"}
        for architecture, manifest in manifests.items():
            config = layout.read_json(manifest["config"]["digest"])
            assert (config["os"], config["architecture"]) == ("linux", architecture)


def test_the_base_layer_is_shared_and_each_architecture_gets_its_own_busybox(
    built: dict[str, BuiltImage],
) -> None:
    layout = oci.Layout(built["busybox"].layout)
    by_architecture: dict[str, set[str]] = {"amd64": set(), "arm64": set()}
    own_layers = set()
    for image in built.values():
        for architecture, manifest in platform_manifests(layout, image).items():
            base_layer, own_layer = manifest["layers"]
            by_architecture[architecture].add(base_layer["digest"])
            own_layers.add((image.recipe.name, own_layer["digest"]))
    assert all(len(bases) == 1 for bases in by_architecture.values()), by_architecture
    assert len(own_layers) == len(built), "each recipe's own layer serves both architectures"
    for architecture, (base,) in by_architecture.items():
        members = layer_members(layout, base)
        binary = layout.blob_path(base).read_bytes()
        offset = members["bin/busybox"].offset_data
        elf = binary[offset : offset + 20]
        assert elf[:4] == b"\x7fELF"
        assert int.from_bytes(elf[18:20], "little") == ELF_MACHINE[architecture]
        links = {name for name, m in members.items() if m.issym() and m.linkname == "busybox"}
        assert {"bin/sh", "bin/httpd", "bin/sleep"} <= links, architecture
        assert members["tmp"].mode == 0o1777


def test_the_recipe_layer_holds_the_recipe_files_with_their_owners(
    built: dict[str, BuiltImage],
) -> None:
    layout = oci.Layout(built["nonroot"].layout)
    own = platform_manifests(layout, built["nonroot"])["arm64"]["layers"][1]
    members = layer_members(layout, own["digest"])
    keep = members["home/conformance/.keep"]
    assert (keep.uid, keep.gid, keep.mode, keep.mtime) == (1234, 1234, 0o644, 0)
    assert members["home/conformance"].isdir()
    assert members["home"].mode == 0o755
    assert {"etc/passwd", "etc/group"} <= set(members)


def test_the_config_is_what_the_recipe_says(built: dict[str, BuiltImage]) -> None:
    recipe = load_recipes()["entrypoint"]
    layout = oci.Layout(built["entrypoint"].layout)
    digest = built["entrypoint"].config_digests["arm64"]
    config = layout.read_json(digest)["config"]
    assert config["Entrypoint"] == list(recipe.entrypoint)
    assert config["Cmd"] == list(recipe.cmd)
    assert config["WorkingDir"] == recipe.workdir
    assert config["Env"] == list(recipe.env)


def test_the_layout_key_follows_the_recipes_and_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    recipes = load_recipes()
    key = layout_key(recipes)
    assert layout_key({k: v for k, v in recipes.items() if k != "webserver"}) != key
    monkeypatch.setattr(busybox, "VERSION", "1:0-0")
    assert layout_key(recipes) != key


def test_python_reads_the_hand_written_tar_as_written() -> None:
    entries = [
        tarball.directory("tmp", 0o1777),
        tarball.regular("tmp/file", b"hello", 0o640, uid=7, gid=8),
        tarball.symlink("tmp/link", "file"),
        tarball.regular(LONG, b""),  # more than ustar's 100 bytes of name: split into prefix
    ]
    data = tarball.archive(entries)
    assert len(data) % tarball.BLOCK == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["tmp", "tmp/file", "tmp/link", LONG]
        assert (members[0].mode, members[0].isdir()) == (0o1777, True)
        assert (members[1].uid, members[1].gid, members[1].mode) == (7, 8, 0o640)
        extracted = archive.extractfile(members[1])
        assert extracted is not None
        assert extracted.read() == b"hello"
        assert (members[2].issym(), members[2].linkname) == (True, "file")
    with pytest.raises(ValueError, match="too long"):
        tarball.archive([tarball.regular("x" * 101, b"")])


def test_the_applets_come_from_the_runnable_binary_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The arm64 binary cannot run here: only the amd64 one of the same version is asked."""
    ran: list[str] = []
    real = busybox.applets

    def recording(listing_binary: Path) -> tuple[str, ...]:
        ran.append(str(listing_binary))
        return real(listing_binary)

    monkeypatch.setattr(busybox, "applets", recording)
    loaded = busybox.load()
    assert loaded.architectures == ["amd64", "arm64"]
    assert len(ran) == 1, ran
    assert busybox.LISTING_ARCHITECTURE == "amd64"
    assert Path(ran[0]).parents[1].name.endswith("amd64"), ran
    assert "sh" in loaded.applets
    assert "busybox" not in loaded.applets


def test_images_build_twice_prints_the_same_digests_for_both_architectures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = []
    for name in ("first", "second"):
        assert main(["images", "build", "--output", str(tmp_path / name)]) == 0
        lines = capsys.readouterr().out.splitlines()
        printed.append([line.rsplit("\t", 1)[0] for line in lines])  # all but the folder
        assert all(
            line.endswith(str(tmp_path / name / layout_key(load_recipes()))) for line in lines
        )
    assert printed[0] == printed[1]
    assert f"busybox\t{BUSYBOX_INDEX}\tamd64={BUSYBOX_CONFIGS['amd64']},arm64=" in "\n".join(
        printed[0]
    )
    assert len(printed[0]) == len(load_recipes())
