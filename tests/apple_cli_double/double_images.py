"""The double's image and system commands."""

from __future__ import annotations

from typing import Any

from double_image_files import fetch_and_unpack, prepare, remove_orphans
from double_parse import parse
from double_store import Fail, Store, compact, pretty

VERSION = "1.2.2"
COMMIT = "af405ffd5a4d8e9ec872bc15351af41130c39b94"


def normalize(reference: str) -> str:
    """``alpine`` -> ``docker.io/library/alpine:latest``, as Apple's CLI names images."""
    name, _, digest = reference.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def find_image(store: Store, reference: str) -> dict[str, Any] | None:
    wanted = normalize(reference)
    for image in store.read("images.json", []):
        if image["configuration"]["name"] == wanted:
            return dict(image)
    return None


def pull(store: Store, reference: str) -> dict[str, Any]:
    wanted = normalize(reference)
    image = store.read("registry.json", {}).get(wanted)
    if image is None:
        registry, _, rest = wanted.partition("/")
        repository, _, tag = rest.rpartition(":")
        scheme = "http" if registry.startswith("127.") else "https"
        raise Fail(
            f"HTTP request to {scheme}://{registry}/v2/{repository}/manifests/{tag} failed with "
            "response: 404 Not Found. Reason: manifest unknown"
        )
    with store.locked():
        images = [i for i in store.read("images.json", []) if i["configuration"]["name"] != wanted]
        store.write("images.json", [*images, image])
        fetch_and_unpack(store, image)
    return dict(image)


def image_command(store: Store, argv: list[str]) -> int:
    if not argv:
        raise Fail("Missing expected argument '<subcommand>'", 64)
    verb, rest = argv[0], argv[1:]
    values = {
        "--format": "format",
        "--progress": "progress",
        "--scheme": "scheme",
        "--platform": "platform",
        "-a": "arch",
        "--arch": "arch",
        "--os": "os",
    }
    flags = {
        "-f": "force",
        "--force": "force",
        "-q": "quiet",
        "-v": "verbose",
        "--all": "all",
        "--debug": "debug",
    }
    parsed = parse(rest, values, flags, f"container image {verb} [<options>]")
    prepare(store)
    if verb == "pull":
        pull(store, parsed.positionals[0])  # prints nothing on stdout
    elif verb in {"list", "ls"}:
        print(compact(store.read("images.json", [])))
    elif verb == "inspect":
        found = []
        for reference in parsed.positionals:
            image = find_image(store, reference)
            if image is None:
                raise Fail(f"image not found: {reference}")
            found.append(image)
        print(pretty(found))
    elif verb in {"delete", "rm"}:
        for reference in parsed.positionals:
            if find_image(store, reference) is None:
                if "force" in parsed.flags:
                    continue
                raise Fail(f"image not found: {reference}")
            with store.locked():
                keep = [
                    i
                    for i in store.read("images.json", [])
                    if i["configuration"]["name"] != normalize(reference)
                ]
                store.write("images.json", keep)
            print(normalize(reference))
        with store.locked():
            remove_orphans(store, store.read("images.json", []))
    else:
        raise Fail(f"Unknown subcommand '{verb}'", 64)
    return 0


def system_command(store: Store, argv: list[str]) -> int:
    if argv[:1] != ["status"]:
        raise Fail(f"the CLI double does not record `system {' '.join(argv)}`", 64)
    running = bool(store.setting("running"))
    fields = (
        "apiServerAppName",
        "apiServerBuild",
        "apiServerCommit",
        "apiServerVersion",
        "appRoot",
        "installRoot",
    )
    status: dict[str, str] = dict.fromkeys(fields, "")
    status["status"] = "running" if running else "not running"
    if running:
        status.update(
            apiServerAppName="container-apiserver",
            apiServerBuild="release",
            apiServerCommit=COMMIT,
            apiServerVersion=VERSION,
            appRoot=f"{store.root}/",
            installRoot="/usr/local/",
        )
    print(pretty(status) if "json" in argv else f"apiserver is {status['status']}")
    return 0 if running else 1
