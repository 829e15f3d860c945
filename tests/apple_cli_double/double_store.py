"""The double's state: everything lives under $CONTAINER_APP_ROOT, as the real CLI's data does.

containers/<id>/config.json   the ManagedContainer configuration (1.x shape)
containers/<id>/status.json   {"state", "startedDate"?, "networks"}
containers/<id>/stdio.log     the workload's raw output, truncated on each start
containers/<id>/exit          written by stop/kill/delete or a test: the attached process ends
                              with this code
containers/<id>/emit.jsonl    written by a test: output the attached process prints
containers/<id>/stats.json    written by a test: counters `stats` reports
images.json                   the local image store (ImageResource documents)
content/, snapshots/          the image service's blobs and unpacked snapshots, as on a Mac
                              (double_image_files.py)
networks.json                 the networks made with `network create` (NetworkResource)
registry.json                 what `image pull` can fetch, by reference
exec-replies.json             what `exec` answers, by JSON-encoded argv
settings.json                 {"macos": 26|15, "shape": "1"|"0", "running": bool,
                              "start_error": the text `start` fails with,
                              "stats_delay_s": how long `stats` takes (the real one ~2 s)}
calls.jsonl                   every command line the double was given
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Fail(Exception):
    """A failure the CLI reports as ``Error: <message>`` with an exit code (1, or 64 for usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def pretty(document: Any) -> str:
    """As Swift prints JSON: keys sorted, ``/`` escaped as ``\\/``."""
    return json.dumps(document, indent=2, sort_keys=True).replace("/", "\\/")


def compact(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).replace("/", "\\/")


class Store:
    def __init__(self) -> None:
        root = os.environ.get("CONTAINER_APP_ROOT")
        if not root:
            raise Fail("the CLI double needs CONTAINER_APP_ROOT (its state folder)")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def read(self, name: str, default: Any) -> Any:
        try:
            return json.loads((self.root / name).read_text())
        except FileNotFoundError:
            return default

    def write(self, name: str, document: Any) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readers poll these files from other processes: they must see all of it or none.
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(document))
        partial.replace(path)

    def record_call(self, argv: list[str]) -> None:
        with (self.root / "calls.jsonl").open("a") as calls:
            calls.write(json.dumps(argv) + "\n")

    def setting(self, name: str) -> Any:
        defaults = {
            "macos": 26,
            "shape": "1",
            "running": True,
            "start_error": "",
            "stats_delay_s": 0,
        }
        return self.read("settings.json", {}).get(name, defaults[name])

    # -- containers -----------------------------------------------------------------------

    def folder(self, container_id: str) -> Path:
        return self.root / "containers" / container_id

    def ids(self) -> list[str]:
        folder = self.root / "containers"
        return (
            sorted(p.name for p in folder.iterdir() if (p / "config.json").exists())
            if folder.exists()
            else []
        )

    def exists(self, container_id: str) -> bool:
        return (self.folder(container_id) / "config.json").exists()

    def config(self, container_id: str) -> dict[str, Any]:
        return dict(self.read(f"containers/{container_id}/config.json", {}))

    def status(self, container_id: str) -> dict[str, Any]:
        return dict(
            self.read(
                f"containers/{container_id}/status.json", {"state": "stopped", "networks": []}
            )
        )

    def set_status(self, container_id: str, status: dict[str, Any]) -> None:
        self.write(f"containers/{container_id}/status.json", status)

    def create(self, config: dict[str, Any]) -> None:
        self.write(f"containers/{config['id']}/config.json", config)
        self.set_status(config["id"], {"state": "stopped", "networks": []})

    def delete(self, container_id: str) -> None:
        shutil.rmtree(self.folder(container_id), ignore_errors=True)

    def next_ip(self) -> str:
        count = int(self.read("ip-counter.json", 1)) + 1
        self.write("ip-counter.json", count)
        return f"192.168.64.{count}"

    def document(self, container_id: str) -> dict[str, Any]:
        """The container as list/inspect print it, in the shape of the configured release."""
        config, status = self.config(container_id), self.status(container_id)
        if self.setting("shape") == "0":  # before 1.0.0: state string and networks at the top
            networks = [
                {
                    "address": n["ipv4Address"],
                    "gateway": n["ipv4Gateway"],
                    "hostname": n["hostname"],
                    "network": n["network"],
                }
                for n in status["networks"]
            ]
            document = {"status": status["state"], "configuration": config, "networks": networks}
            if "startedDate" in status:
                document["startedDate"] = status["startedDate"]
            return document
        return {"id": container_id, "configuration": config, "status": status}
