"""A VM's QEMU monitor (QMP): hot-plugging the virtio-serial ports of streaming sessions.

Each port is a unix socket QEMU listens on (``chardev-add``), plugged into the VM's
virtio-serial bus as a named ``virtserialport`` (``device_add``): the guest's kernel announces
it, devtmpfs makes its ``/dev/vport*`` node, and the agent finds it by name in
``/sys/class/virtio-ports``. Unplugging takes the port from the guest at once (its open files
read ENODEV) and then frees the socket.

QMP through ``qemu.qmp``, QEMU's own client. It is asyncio-only, and its synchronous wrapper
(``legacy``) runs an event loop in the calling thread, while the shim calls from many threads
(each streaming session has its own): so one daemon thread runs an event loop for every monitor
of the process, and callers wait for their command's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from qemu.qmp import QMPClient, QMPError

from reference_shim.errors import BackendError

_TIMEOUT_S = 30.0  # one command, on a loaded machine
_T = TypeVar("_T")
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` on the monitors' event loop thread and return its result."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="qmp", daemon=True).start()
        loop = _loop
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(_TIMEOUT_S)


class Monitor:
    """The QMP connection to one VM's QEMU, made on first use; one command at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._client: QMPClient | None = None
        self._lock = threading.Lock()
        self._closed = False

    def execute(self, command: str, arguments: Mapping[str, object]) -> object:
        with self._lock:
            if self._closed:
                raise BackendError("the VM has ended: its monitor is closed")
            try:
                if self._client is None:
                    client = QMPClient(self._path.name)
                    _run(client.connect(str(self._path)))
                    self._client = client
                return _run(self._client.execute(command, arguments))
            except (QMPError, OSError, TimeoutError) as error:
                raise BackendError(f"QEMU's monitor: {command} failed: {error}") from error

    def plug_port(self, name: str, socket_path: Path) -> None:
        """A virtio-serial port named ``name``, its host end a socket QEMU listens on."""
        chardev, device = f"ch-{name}", f"port-{name}"
        address = {"type": "unix", "data": {"path": str(socket_path)}}
        backend = {"type": "socket", "data": {"addr": address, "server": True, "wait": False}}
        self.execute("chardev-add", {"id": chardev, "backend": backend})
        try:
            port = {"driver": "virtserialport", "chardev": chardev, "name": name, "id": device}
            self.execute("device_add", port)
        except BackendError:
            with contextlib.suppress(BackendError):
                self.execute("chardev-remove", {"id": f"ch-{name}"})
            raise

    def unplug_port(self, name: str) -> None:
        """Take the port from the guest, then free its socket; a VM that has ended has none."""
        with contextlib.suppress(BackendError):
            self.execute("device_del", {"id": f"port-{name}"})
        with contextlib.suppress(BackendError):
            self.execute("chardev-remove", {"id": f"ch-{name}"})

    def close(self) -> None:
        """QEMU has ended: let go of the connection."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            # a QEMU that has ended makes disconnect re-raise its reader's EOFError
            with contextlib.suppress(QMPError, OSError, TimeoutError, EOFError):
                _run(client.disconnect())
