"""The double's network commands (macOS 26 only: on 15 the group is not registered).

The shapes are the facts sheet's NetworkResource; the texts of network errors (a name taken,
a missing network, one still in use) are not in it and are this double's guesses.
"""

from __future__ import annotations

import re
from typing import Any

from double_parse import parse
from double_store import Fail, Store, compact, now_iso

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$")
BUILTIN = "default"


def _document(name: str, labels: dict[str, str], number: int, internal: bool) -> dict[str, Any]:
    subnet = f"192.168.{64 + number}"
    return {
        "configuration": {
            "creationDate": now_iso(),
            "labels": labels,
            "mode": "hostOnly" if internal else "nat",
            "name": name,
            "options": {},
            "plugin": "container-network-vmnet",
        },
        "id": name,
        "status": {"ipv4Gateway": f"{subnet}.1", "ipv4Subnet": f"{subnet}.0/24"},
    }


def _networks(store: Store) -> list[dict[str, Any]]:
    builtin = _document(BUILTIN, {"com.apple.container.resource.role": "builtin"}, 0, False)
    return [builtin, *store.read("networks.json", [])]


def _create(store: Store, argv: list[str]) -> None:
    values = {"--label": "label", "--subnet": "subnet", "--subnet-v6": "subnet-v6",
              "--option": "option", "--plugin": "plugin"}  # fmt: skip
    parsed = parse(
        argv,
        values,
        {"--internal": "internal", "--debug": "debug"},
        "container network create [<options>] <name>",
    )
    name = parsed.positionals[0]
    if not _NAME.match(name):
        raise Fail(f"invalid network name {name}")
    labels = dict(label.partition("=")[::2] for label in parsed.all("label"))
    with store.locked():
        found = _networks(store)
        if any(network["id"] == name for network in found):
            raise Fail(f"network {name} already exists")
        document = _document(name, labels, len(found), "internal" in parsed.flags)
        store.write("networks.json", [*found[1:], document])
    print(name)


def _delete(store: Store, argv: list[str]) -> None:
    parsed = parse(
        argv,
        {},
        {"-a": "all", "--all": "all", "--debug": "debug"},
        "container network delete <names> ...",
    )
    with store.locked():
        found = store.read("networks.json", [])
        for name in parsed.positionals:
            if name == BUILTIN:
                raise Fail("cannot delete the builtin network default")
            if not any(network["id"] == name for network in found):
                raise Fail(f"network {name} not found")
            users = [
                i
                for i in store.ids()
                if any(n["network"] == name for n in store.config(i)["networks"])
            ]
            if users:
                raise Fail(f"network {name} has attached containers: {', '.join(users)}")
            found = [network for network in found if network["id"] != name]
            store.write("networks.json", found)
            print(name)


def network_command(store: Store, argv: list[str]) -> int:
    if int(store.setting("macos")) < 26:
        raise Fail("Unexpected argument 'network'\nUsage: container <subcommand>", 64)
    verb, rest = (argv[0], argv[1:]) if argv else ("", [])
    if verb == "create":
        _create(store, rest)
    elif verb in {"delete", "rm"}:
        _delete(store, rest)
    elif verb in {"list", "ls"}:
        print(compact(_networks(store)))
    else:
        raise Fail(f"the CLI double does not record `network {' '.join(argv)}`", 64)
    return 0
