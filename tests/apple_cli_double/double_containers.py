"""The double's container commands: create, start, stop, kill, delete, list, inspect, exec, stats.

The double never runs a workload. ``start --attach`` stands in for the attached CLI: it prints
what a test queued in ``emit.jsonl`` and ends with the code someone wrote to ``exit`` (a stop,
a kill, a forced delete, or a test saying the workload ended), as the real CLI ends with the
workload's code. ``exec`` answers with the reply a test set for its command: output, an
exit code, and with ``-i``/``-t`` what the CLI makes of its own stdio (stdin passed on, the
terminal's size forwarded). Error texts and exit codes are the real CLI's
(docs/apple-backend.md).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from double_images import find_image, pull
from double_parse import CREATE_FLAGS, CREATE_VALUES, check_id, container_config, parse
from double_store import Fail, Store, compact, now_iso, pretty

_POLL_S = 0.02
_STOP_WAIT_S = 10.0


def _signal_number(name: str) -> int:
    if name.isdigit():
        return int(name)
    return int(signal.Signals["SIG" + name.upper().removeprefix("SIG")])


def _wrapped(verb: str, code: str, cause: str) -> str:
    return f'internalError: "failed to {verb} container" (cause: "{code}: "{cause}"")'


def create(store: Store, argv: list[str]) -> int:
    parsed = parse(
        argv, CREATE_VALUES, CREATE_FLAGS, "container create [<options>] <image> [<arguments> ...]"
    )
    if not parsed.positionals:
        raise Fail("Missing expected argument '<image>'", 64)
    container_id = parsed.one("name") or "4f1c0de2-0000-4000-8000-000000000001"
    check_id(container_id)
    image = find_image(store, parsed.positionals[0]) or pull(store, parsed.positionals[0])
    with store.locked():
        if store.exists(container_id):
            raise Fail(f"container already exists: {container_id}")
        store.create(container_config(parsed, container_id, image, int(store.setting("macos"))))
    print(container_id)
    return 0


def _pump(store: Store, folder: Path, offset: int) -> int:
    """Print what the test queued since ``offset``, as the attached CLI streams the workload's."""
    try:
        with (folder / "emit.jsonl").open("rb") as queued:
            queued.seek(offset)
            pending = queued.read()
    except FileNotFoundError:
        return offset
    complete = pending[: pending.rfind(b"\n") + 1]  # a line still being appended waits
    for line in complete.splitlines():
        item = json.loads(line)
        data = item["data"].encode()
        target = sys.stderr if item["stream"] == "stderr" else sys.stdout
        target.buffer.write(data)
        target.flush()
        with (folder / "stdio.log").open("ab") as log:
            log.write(data)
    return offset + len(complete)


def start(store: Store, argv: list[str]) -> int:
    flags = {
        "-a": "attach",
        "--attach": "attach",
        "-i": "interactive",
        "--interactive": "interactive",
        "--debug": "debug",
    }
    parsed = parse(argv, {}, flags, "container start [--attach] [--interactive] <container-id>")
    container_id = parsed.positionals[0]
    folder = store.folder(container_id)
    with store.locked():
        if not store.exists(container_id):
            raise Fail(f"get failed: container {container_id} not found")
        if store.setting("start_error"):  # e.g. a VM that cannot boot
            raise Fail(str(store.setting("start_error")))
        if store.status(container_id)["state"] == "running":
            if "attach" in parsed.flags:
                raise Fail("attach is currently unsupported on already running containers")
            print(container_id)
            return 0
        (folder / "exit").unlink(missing_ok=True)
        (folder / "stdio.log").write_bytes(b"")  # truncated on every start
        network = store.config(container_id)["networks"][0]["network"]
        attachment = {
            "hostname": container_id,
            "ipv4Address": f"{store.next_ip()}/24",
            "ipv4Gateway": "192.168.64.1",
            "macAddress": "f2:11:22:33:44:55",
            "mtu": 1280,
            "network": network,
            "variant": "reserved",
        }
        store.set_status(
            container_id, {"state": "running", "startedDate": now_iso(), "networks": [attachment]}
        )
        store.write(f"containers/{container_id}/attached.pid", os.getpid())
    if "attach" not in parsed.flags:
        print(container_id)
        return 0
    offset = 0
    while True:
        offset = _pump(store, folder, offset)
        if (folder / "exit").exists():
            _pump(store, folder, offset)
            code = int((folder / "exit").read_text())
            with store.locked():
                if store.exists(container_id):
                    (folder / "exit").unlink()
                    status = store.status(container_id)
                    store.set_status(container_id, {**status, "state": "stopped", "networks": []})
            return code
        if not store.exists(container_id):
            return 137  # deleted underneath
        time.sleep(_POLL_S)


def _attached_alive(folder: Path) -> bool:
    try:
        os.kill(int((folder / "attached.pid").read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def _end(store: Store, container_id: str, code: int, wait: bool) -> None:
    """Make the workload end with ``code``; with ``wait``, return once the state is stopped."""
    folder = store.folder(container_id)
    store.write(f"containers/{container_id}/exit", code)
    deadline = time.monotonic() + _STOP_WAIT_S
    while wait and store.status(container_id)["state"] == "running" and time.monotonic() < deadline:
        if not _attached_alive(folder):
            with store.locked():
                store.set_status(
                    container_id, {**store.status(container_id), "state": "stopped", "networks": []}
                )
            break
        time.sleep(_POLL_S)


def _each(store: Store, ids: list[str], verb: str, act: Any) -> int:
    failures = []
    for container_id in ids:
        if not store.exists(container_id):
            failures.append(
                _wrapped(verb, "notFound", f"container with ID {container_id} not found")
            )
            continue
        failure = act(container_id)
        if failure:
            failures.append(failure)
        else:
            print(container_id)
    if failures:
        raise Fail("\nError: ".join(failures))
    return 0


def stop(store: Store, argv: list[str]) -> int:
    values = {"-s": "signal", "--signal": "signal", "-t": "time", "--time": "time"}
    parsed = parse(
        argv,
        values,
        {"-a": "all", "--all": "all", "--debug": "debug"},
        "container stop [<options>] <container-ids> ...",
    )

    def act(container_id: str) -> str:
        if store.status(container_id)["state"] == "running":
            _end(store, container_id, 128 + _signal_number(parsed.one("signal", "TERM")), wait=True)
        return ""  # stopping a stopped container succeeds

    return _each(store, parsed.positionals, "stop", act)


def kill(store: Store, argv: list[str]) -> int:
    parsed = parse(
        argv,
        {"-s": "signal", "--signal": "signal"},
        {"-a": "all", "--all": "all", "--debug": "debug"},
        "container kill [<options>] <container-ids> ...",
    )
    number = _signal_number(parsed.one("signal", "KILL"))

    def act(container_id: str) -> str:
        if store.status(container_id)["state"] != "running":
            return _wrapped(
                "kill", "invalidState", "no runtime client exists: container is stopped"
            )
        _end(store, container_id, 128 + number, wait=number == signal.SIGKILL)
        return ""

    return _each(store, parsed.positionals, "kill", act)


def delete(store: Store, argv: list[str]) -> int:
    flags = {"-f": "force", "--force": "force", "-a": "all", "--all": "all", "--debug": "debug"}
    parsed = parse(argv, {}, flags, "container delete [<options>] <container-ids> ...")

    def act(container_id: str) -> str:
        if store.status(container_id)["state"] == "running":
            if "force" not in parsed.flags:
                return _wrapped(
                    "delete",
                    "invalidState",
                    f"container {container_id} is running and can not be deleted",
                )
            _end(store, container_id, 137, wait=True)
        with store.locked():
            store.delete(container_id)
        return ""

    return _each(store, parsed.positionals, "delete", act)


def listing(store: Store, argv: list[str]) -> int:
    parsed = parse(
        argv,
        {"--format": "format"},
        {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--debug": "debug"},
        "container list [<options>]",
    )
    ids = [i for i in store.ids() if "all" in parsed.flags or store.status(i)["state"] == "running"]
    print(compact([store.document(i) for i in ids]))
    return 0


def inspect(store: Store, argv: list[str]) -> int:
    parsed = parse(argv, {}, {"--debug": "debug"}, "container inspect <container-ids> ...")
    missing = [i for i in parsed.positionals if not store.exists(i)]
    if missing:
        raise Fail(f"container not found: {', '.join(missing)}")
    print(pretty([store.document(i) for i in parsed.positionals]))
    return 0


def execute(store: Store, argv: list[str]) -> int:
    values = {
        "-e": "env",
        "--env": "env",
        "--env-file": "env-file",
        "-u": "user",
        "--user": "user",
        "--uid": "uid",
        "--gid": "gid",
        "-w": "cwd",
        "--workdir": "cwd",
        "--cwd": "cwd",
    }
    flags = {
        "-i": "interactive",
        "--interactive": "interactive",
        "-t": "tty",
        "--tty": "tty",
        "-d": "detach",
        "--detach": "detach",
        "--debug": "debug",
    }
    parsed = parse(argv, values, flags, "container exec [<options>] <container-id> <arguments> ...")
    container_id, command = parsed.positionals[0], parsed.positionals[1:]
    if not store.exists(container_id):
        raise Fail(f"get failed: container {container_id} not found")
    if store.status(container_id)["state"] != "running":
        raise Fail(f"container {container_id} is not running")
    with (store.root / "execs.jsonl").open("a") as log:
        log.write(json.dumps({"id": container_id, "argv": command}) + "\n")
    reply = store.read("exec-replies.json", {}).get(json.dumps(command), {})
    # Without -t the CLI forwards SIGTERM to the command, which dies of it: 128 + 15.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    deadline = time.monotonic() + float(reply.get("delay_s", 0))
    while time.monotonic() < deadline:
        time.sleep(_POLL_S)
    # Only -i passes the CLI's stdin on to the command: a reply echoing it is a `cat`.
    if reply.get("echo_stdin") and "interactive" in parsed.flags:
        while chunk := os.read(sys.stdin.fileno(), 65536):
            os.write(sys.stdout.fileno(), chunk)
    if reply.get("await_size") and "tty" in parsed.flags:
        _await_terminal_size(reply["await_size"])
    sys.stdout.write(reply.get("stdout", ""))
    sys.stdout.flush()  # in order with stderr, as one terminal shows them with -t
    sys.stderr.write(reply.get("stderr", ""))
    return int(reply.get("exit_code", 0))


def _await_terminal_size(wanted: list[int]) -> None:
    """With -t the command's terminal has the size of the CLI's own (its stdin), and the CLI
    passes on each window change, which a terminal program hears of by SIGWINCH. The reply
    stands for a command that prints ``tty:<rows> <columns>`` once its terminal is ``wanted``
    (rows, columns), or after 10 s. What the CLI does with -t and no terminal is unknown."""
    if not sys.stdin.isatty():
        raise Fail("the double does not know `exec -t` without a terminal on stdin")
    size: list[os.terminal_size] = []

    def read_size(*_: object) -> None:
        size[:] = [os.get_terminal_size(sys.stdin.fileno())]

    signal.signal(signal.SIGWINCH, read_size)  # before the first read: no change is missed
    read_size()
    deadline = time.monotonic() + 10
    while [size[0].lines, size[0].columns] != wanted and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    sys.stdout.write(f"tty:{size[0].lines} {size[0].columns}\n")


def stats(store: Store, argv: list[str]) -> int:
    parsed = parse(
        argv,
        {"--format": "format"},
        {"--no-stream": "no-stream", "--debug": "debug"},
        "container stats [<options>] [<container-ids> ...]",
    )
    for container_id in parsed.positionals:
        if not store.exists(container_id):
            raise Fail(f"no such container: {container_id}")
    time.sleep(float(store.setting("stats_delay_s")))  # two samples, some time apart
    running = [
        i for i in parsed.positionals or store.ids() if store.status(i)["state"] == "running"
    ]
    defaults = {
        "cpuUsageUsec": 1000,
        "memoryLimitBytes": 1 << 30,
        "memoryUsageBytes": 1 << 20,
        "numProcesses": 1,
    }
    print(
        compact(
            [{**defaults, **store.read(f"containers/{i}/stats.json", {}), "id": i} for i in running]
        )
    )
    return 0
