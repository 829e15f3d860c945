"""Driving the recorded-behaviour double of Apple's CLI (tests/apple_cli_double/container).

The double answers like the real CLI; this helper is the test's side of it: seed images, say
when a workload prints or ends, read back the command lines the backend gave.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reference_shim.backends.apple.cli import AppleCli

DOUBLE = Path(__file__).parents[2] / "apple_cli_double" / "container"
BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
ENTRYPOINT = "127.0.0.1:5000/cri-conformance/entrypoint:1.0"
PAUSE = "127.0.0.1:5000/cri-conformance/pause:3.9"


def image_document(
    name: str, number: int, config: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """An ImageResource as ``container image list --format json`` prints it (1.x): an index
    with an arm64 and an amd64 variant (sizes tell them apart) and an attestation entry."""
    digest = f"sha256:{number:064x}"

    def variant(arch: str, size: int) -> dict[str, Any]:
        return {
            "config": {
                "architecture": arch,
                "config": config or {"Cmd": ["sh"]},
                "created": "2026-05-30T12:00:00Z",
                "os": "linux",
                "rootfs": {"diff_ids": [f"sha256:{number + 1:064x}"], "type": "layers"},
            },
            "digest": f"sha256:{number + size:064x}",
            "platform": {"architecture": arch, "os": "linux"},
            "size": size,
        }

    attestation = {
        "config": {
            "architecture": "unknown",
            "os": "unknown",
            "rootfs": {"diff_ids": [], "type": "layers"},
        },
        "digest": f"sha256:{number + 9:064x}",
        "platform": {"architecture": "unknown", "os": "unknown"},
        "size": 840,
    }
    return {
        "configuration": {
            "creationDate": "2026-05-30T12:00:00Z",
            "descriptor": {
                "digest": digest,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "size": 9218,
            },
            "name": name,
        },
        "id": digest.removeprefix("sha256:"),
        "variants": [
            variant("arm64", 4_000_000 + number),
            variant("amd64", 5_000_000 + number),
            attestation,
        ],
        **extra,
    }


def fast_launcher(folder: Path) -> Path:
    """``container`` in ``folder``: the double, started by this interpreter without site
    packages (it needs only the standard library), which keeps each call near 40 ms."""
    folder.mkdir(parents=True, exist_ok=True)
    launcher = folder / "container"
    launcher.write_text(
        f"#!{sys.executable} -IS\nimport runpy\nimport sys\n"
        f"sys.argv[0] = {str(DOUBLE)!r}\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    launcher.chmod(0o755)
    return launcher


class CliDouble:
    def __init__(self, app_root: Path) -> None:
        self.root = app_root
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = {"CONTAINER_APP_ROOT": str(app_root)}
        self.path = str(fast_launcher(app_root.parent / "bin"))

    def cli(self) -> AppleCli:
        return AppleCli(self.path, self.env)

    def _read(self, name: str, default: Any) -> Any:
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else default

    def _write(self, name: str, document: Any) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        # The double polls these files from its own processes: replace, never half-write.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(document))
        partial.replace(path)

    # -- the test says ------------------------------------------------------------------

    def settings(self, **values: Any) -> None:
        """``macos=15|26``, ``shape="1"|"0"`` (JSON of 1.x or 0.x), ``running=bool``."""
        self._write("settings.json", {**self._read("settings.json", {}), **values})

    def publish(self, name: str, number: int, config: dict[str, Any] | None = None) -> None:
        """Put an image in the registry the double pulls from."""
        self._write(
            "registry.json",
            {**self._read("registry.json", {}), name: image_document(name, number, config)},
        )

    def workload_prints(self, vm_id: str, stream: str, text: str) -> None:
        with (self.root / "containers" / vm_id / "emit.jsonl").open("a") as queued:
            queued.write(json.dumps({"stream": stream, "data": text}) + "\n")

    def workload_exits(self, vm_id: str, code: int) -> None:
        self._write(f"containers/{vm_id}/exit", code)

    def reply_to_exec(self, argv: list[str], **reply: Any) -> None:
        """``stdout``, ``stderr``, ``exit_code``, ``delay_s`` for ``container exec ID argv``;
        ``echo_stdin=True``: with ``-i`` the command copies stdin to stdout first (a ``cat``);
        ``await_size=[rows, columns]``: with ``-t`` it prints ``tty:<rows> <columns>`` once
        its terminal has that size (see ``harness.streaming.probes.terminal_size_probe``)."""
        self._write(
            "exec-replies.json", {**self._read("exec-replies.json", {}), json.dumps(argv): reply}
        )

    def set_stats(self, vm_id: str, **counters: int) -> None:
        self._write(f"containers/{vm_id}/stats.json", counters)

    # -- the test reads -----------------------------------------------------------------

    def calls(self, verb: str = "") -> list[list[str]]:
        path = self.root / "calls.jsonl"
        found = (
            [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        )
        return [argv for argv in found if not verb or argv[:1] == [verb]]

    def last(self, verb: str) -> list[str]:
        return self.calls(verb)[-1]

    def config(self, vm_id: str) -> dict[str, Any]:
        return dict(self._read(f"containers/{vm_id}/config.json", {}))

    def state(self, vm_id: str) -> str:
        return str(self._read(f"containers/{vm_id}/status.json", {}).get("state", "missing"))

    def containers(self) -> list[str]:
        folder = self.root / "containers"
        return (
            sorted(p.name for p in folder.iterdir() if (p / "config.json").exists())
            if folder.exists()
            else []
        )


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
