"""Command lines as the real CLI (swift-argument-parser) takes them, and `create`'s config.

Options come first; the first positional starts the passthrough arguments (everything after
it, dash or not, is the workload's). An unknown option exits 64 with the usage line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from double_store import Fail, now_iso

_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
MIN_MEMORY = 200 * 1024 * 1024

CREATE_VALUES = {
    "--name": "name",
    "-e": "env",
    "--env": "env",
    "-w": "cwd",
    "--workdir": "cwd",
    "--cwd": "cwd",
    "-u": "user",
    "--user": "user",
    "--uid": "uid",
    "--gid": "gid",
    "-c": "cpus",
    "--cpus": "cpus",
    "-m": "memory",
    "--memory": "memory",
    "-l": "label",
    "--label": "label",
    "-v": "volume",
    "--volume": "volume",
    "--mount": "mount",
    "-p": "publish",
    "--publish": "publish",
    "--dns": "dns",
    "--dns-search": "dns-search",
    "--dns-option": "dns-option",
    "--dns-domain": "dns-domain",
    "--network": "network",
    "--entrypoint": "entrypoint",
    "--cap-add": "cap-add",
    "--cap-drop": "cap-drop",
    "--masked-path": "masked-path",
    "--read-only-path": "read-only-path",
    "--tmpfs": "tmpfs",
    "--platform": "platform",
    "-a": "arch",
    "--arch": "arch",
    "--os": "os",
    "--scheme": "scheme",
}
CREATE_FLAGS = {
    "-t": "tty",
    "--tty": "tty",
    "-i": "interactive",
    "--interactive": "interactive",
    "--read-only": "read-only",
    "--no-dns": "no-dns",
    "--rm": "rm",
    "--remove": "rm",
    "-d": "detach",
    "--detach": "detach",
    "--init": "init",
    "--rosetta": "rosetta",
    "--ssh": "ssh",
    "--debug": "debug",
}


@dataclass
class Parsed:
    values: dict[str, list[str]] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    positionals: list[str] = field(default_factory=list)

    def one(self, name: str, default: str = "") -> str:
        return self.values.get(name, [default])[-1]

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])


def parse(argv: list[str], values: dict[str, str], flags: dict[str, str], usage: str) -> Parsed:
    parsed = Parsed()
    index = 0
    while index < len(argv):
        token = argv[index]
        if parsed.positionals or not token.startswith("-") or token == "-":
            parsed.positionals.append(token)
        elif token in flags:
            parsed.flags.add(flags[token])
        elif token in values:
            if index + 1 >= len(argv):
                raise Fail(f"Missing value for '{token}'\nUsage: {usage}", 64)
            parsed.values.setdefault(values[token], []).append(argv[index + 1])
            index += 1
        else:
            raise Fail(f"Unknown option '{token}'\nUsage: {usage}", 64)
        index += 1
    return parsed


def check_id(container_id: str) -> None:
    if len(container_id) > 63 or not _ID.match(container_id):
        raise Fail(f"container ID {container_id} is not a valid container ID")


def memory_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kmgtpKMGTP]?)(?:i?[bB])?", text)
    if not match:
        raise Fail(f"invalid memory amount {text}")
    amount = int(match.group(1)) * _UNITS[match.group(2).lower()]
    amount -= amount % (1024 * 1024)  # whole MiB
    if amount < MIN_MEMORY:
        raise Fail(f"minimum memory amount allowed is 200 MiB (got {amount} bytes)")
    return amount


def _user(text: str, image_user: str) -> dict[str, Any]:
    if not text:
        text = image_user
    if not text:
        return {"id": {"gid": 0, "uid": 0}}
    uid, _, gid = text.partition(":")
    if uid.isdigit() and (not gid or gid.isdigit()):
        return {"id": {"gid": int(gid or 0), "uid": int(uid)}}
    return {"raw": {"userString": text}}


def _mount(spec: str) -> dict[str, Any]:
    source, _, rest = spec.partition(":")
    destination, _, options = rest.partition(":")
    if "/" not in source:
        return {
            "destination": destination,
            "options": [],
            "source": source,
            "type": {"volume": {"name": source, "format": "ext4"}},
        }
    if not Path(source).exists():
        raise Fail(f"path '{source}' does not exist")
    return {
        "destination": destination,
        "options": [o for o in options.split(",") if o],
        "source": source,
        "type": {"virtiofs": {}},
    }


def _port(spec: str) -> dict[str, Any]:
    spec, _, proto = spec.partition("/")
    if spec.startswith("["):
        host_ip, _, rest = spec[1:].partition("]:")
    else:
        parts = spec.split(":")
        host_ip, rest = (parts[0], ":".join(parts[1:])) if len(parts) == 3 else ("0.0.0.0", spec)
    host_port, _, container_port = rest.partition(":")
    if min(int(host_port), int(container_port)) < 2:
        raise Fail(f"invalid port specification {spec}: ports must be 2 or above")
    return {
        "containerPort": int(container_port),
        "count": 1,
        "hostAddress": host_ip,
        "hostPort": int(host_port),
        "proto": proto or "tcp",
    }


def _labels(specs: list[str]) -> dict[str, str]:
    labels = {}
    for spec in specs:
        key, _, value = spec.partition("=")
        if "=" in value:
            raise Fail(f"invalid label format {spec}")
        labels[key] = value
    return labels


def _environment(image_env: list[str], specs: list[str]) -> list[str]:
    merged = dict(entry.partition("=")[::2] for entry in image_env)
    for spec in specs:
        key, has_value, value = spec.partition("=")
        merged[key] = value if has_value else merged.get(key, "")
    return sorted(f"{key}={value}" for key, value in merged.items())  # order is not kept


def container_config(
    parsed: Parsed, container_id: str, image: dict[str, Any], macos: int
) -> dict[str, Any]:
    name = image["configuration"]["name"]
    image_config = image["variants"][0]["config"].get("config") or {}
    entrypoint = parsed.one("entrypoint")
    arguments = parsed.positionals[1:]
    if entrypoint:
        command = [entrypoint, *arguments]
    else:
        command = [
            *(image_config.get("Entrypoint") or []),
            *(arguments or image_config.get("Cmd") or []),
        ]
    networks = parsed.all("network") or ["default"]
    if networks != ["default"] and macos < 26:
        raise Fail("non-default network configuration requires macOS 26 or newer")
    config: dict[str, Any] = {
        "capAdd": parsed.all("cap-add"),
        "capDrop": parsed.all("cap-drop"),
        "creationDate": now_iso(),
        "id": container_id,
        "image": {"descriptor": image["configuration"]["descriptor"], "reference": name},
        "initProcess": {
            "arguments": command[1:],
            "environment": _environment(image_config.get("Env") or [], parsed.all("env")),
            "executable": command[0] if command else "",
            "rlimits": [],
            "supplementalGroups": [],
            "terminal": "tty" in parsed.flags,
            "user": _user(parsed.one("user"), image_config.get("User", "")),
            "workingDirectory": parsed.one("cwd") or image_config.get("WorkingDir") or "/",
        },
        "labels": _labels(parsed.all("label")),
        "mounts": [_mount(spec) for spec in parsed.all("volume")],
        "networks": [
            {"network": n, "options": {"hostname": container_id, "mtu": 1280}} for n in networks
        ],
        "platform": {"architecture": "arm64", "os": "linux"},
        "publishedPorts": [_port(p) for p in parsed.all("publish")],
        "publishedSockets": [],
        "readOnly": "read-only" in parsed.flags,
        "resources": {
            "cpuOverhead": 1,
            "cpus": int(parsed.one("cpus", "4")),
            "memoryInBytes": memory_bytes(parsed.one("memory", "1g")),
        },
        "rosetta": False,
        "runtimeHandler": "container-runtime-linux",
        "ssh": False,
        "sysctls": {},
        "useInit": "init" in parsed.flags,
        "virtualization": False,
    }
    if "no-dns" not in parsed.flags:
        config["dns"] = {
            "nameservers": parsed.all("dns"),
            "options": parsed.all("dns-option"),
            "searchDomains": parsed.all("dns-search"),
        }
    if parsed.all("masked-path"):
        config["maskedPaths"] = parsed.all("masked-path")
    if parsed.all("read-only-path"):
        config["readonlyPaths"] = parsed.all("read-only-path")
    return config
