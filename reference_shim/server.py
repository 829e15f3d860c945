"""Wiring: backend, state, recovery, gRPC server on a unix socket, clean shutdown."""

from __future__ import annotations

import logging
import os
import secrets
import select
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from types import FrameType
from typing import Any, TypeVar

import grpc
from cri_api.v1 import api_pb2_grpc as cri_grpc

from reference_shim.backends import backend_package
from reference_shim.backends.base import ImageChanges, VmBackend, VmChanges
from reference_shim.config import ShimConfig
from reference_shim.cri.changes import RecordChanges
from reference_shim.cri.context import ShimContext
from reference_shim.cri.images import Images
from reference_shim.cri.recovery import reconcile_late, recover
from reference_shim.cri.streaming_urls import StreamingService
from reference_shim.grpc_api.image_service import ImageService
from reference_shim.grpc_api.runtime_service import RuntimeService
from reference_shim.grpc_api.undecodable import UndecodableRequests
from reference_shim.state.registry import Registry
from reference_shim.state.store import Store
from reference_shim.strategies import strategy_named
from reference_shim.streaming.server import StreamingServer

log = logging.getLogger(__name__)

_SOCKET_MODE = 0o660
_WORKERS = 16
_GRACE_S = 5.0
W = TypeVar("W", VmChanges, ImageChanges)


def instance_id(store: Store) -> str:
    """This state dir's identity, kept across restarts; it labels every object the shim makes."""
    found = store.meta("instance")
    if found is None:
        found = secrets.token_hex(8)
        store.set_meta("instance", found)
    return found


class Shim:
    """One running shim: build with a config, ``start``, then ``wait`` or ``stop``."""

    def __init__(
        self,
        config: ShimConfig,
        backend: VmBackend | None = None,
        streaming: StreamingServer | None = None,
    ) -> None:
        """An injected ``backend`` comes without streaming unless ``streaming`` is given."""
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.state_dir / "state.db")
        if backend is None:  # the registry's: the backend and its streaming, on loopback
            built = backend_package(config.backend).build(config, instance_id(self.store))
            backend = built.vms
            streaming = StreamingServer(
                built.streaming, stall_timeout=config.streaming_stall_timeout
            )
        self.backend = backend
        self.streaming = streaming
        self.ctx = ShimContext(
            registry=Registry(self.store),
            backend=self.backend,
            strategy=strategy_named(config.strategy, self.backend),
            pod_image=config.pod_image,
            state_dir=config.state_dir,
        )
        self._stopping = threading.Event()
        self._changes = RecordChanges(self.ctx)
        self._server: grpc.Server | None = None
        self._late_recovery = threading.Thread(
            target=reconcile_late, args=(self.ctx, self._stopping), daemon=True,
            name="late-recovery",
        )  # fmt: skip
        self.stopped = threading.Event()
        self._stop_once = threading.Lock()  # a signal and the watched process may both stop it

    def start(self) -> None:
        self.backend.setup()
        recover(self.ctx)
        for watch, changes, name in (
            (self.backend.watch_changes, self._changes, "change-watcher"),
            (self.backend.images.watch_images, self.ctx.images, "image-watcher"),
        ):
            threading.Thread(
                target=self._watch, args=(watch, changes), daemon=True, name=name
            ).start()
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="cri"),
            interceptors=[UndecodableRequests()],
        )
        # The generated registration functions are untyped.
        add_runtime: Any = cri_grpc.add_RuntimeServiceServicer_to_server
        add_images: Any = cri_grpc.add_ImageServiceServicer_to_server
        provider = None
        if self.streaming is not None:
            self.streaming.start()
            provider = StreamingService(self.streaming, self.ctx.pod_addresses)
            log.info("streaming server on %s", self.streaming.base_url)
        add_runtime(RuntimeService(self.ctx, provider), server)
        add_images(ImageService(Images(self.ctx.images, self.config.pod_image)), server)
        socket = self.config.socket
        socket.parent.mkdir(parents=True, exist_ok=True)
        if socket.is_socket():
            socket.unlink()  # left by a shim that was killed
        previous_umask = os.umask(0o117)  # the socket is born 0660, never briefly wider
        try:
            server.add_insecure_port(f"unix://{socket}")
            server.start()
        finally:
            os.umask(previous_umask)
        os.chmod(socket, _SOCKET_MODE)
        self._server = server
        self._late_recovery.start()
        log.info(
            "serving CRI on unix://%s (backend %s, strategy %s, network %s)",
            socket,
            self.backend.name,
            self.ctx.strategy.name,
            self.backend.network(),
        )

    def _watch(self, watch: Callable[[W, threading.Event], None], changes: W) -> None:
        """Keep ``watch`` (the backend's VM or image changes) reporting to ``changes``."""
        while not self._stopping.is_set():
            try:
                watch(changes, self._stopping)
            except Exception:
                log.exception("watching the backend's changes failed; retrying")
            changes.lost()
            self._stopping.wait(1.0)

    def stop(self) -> None:
        """Stop serving; VMs keep running and a restarted shim takes them back. A second
        call waits for the first to finish."""
        with self._stop_once:
            if not self.stopped.is_set():
                self._stop()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.stop(_GRACE_S).wait()
        if self.streaming is not None:
            self.streaming.stop()
        self._stopping.set()
        if self._late_recovery.is_alive():
            self._late_recovery.join()  # a pass under way ends before the store closes
        self._changes.wait(_GRACE_S)  # changes being applied end before the store closes
        self.ctx.teardowns.close()  # removed pods leave nothing behind a clean stop
        self.ctx.close_pumps()
        self.ctx.host_ports.close_all()
        if not self.ctx.registry.pods and not self.ctx.registry.containers:
            self.backend.teardown()
        self.store.close()
        if self.config.socket.is_socket():
            self.config.socket.unlink()
        self.stopped.set()
        log.info("stopped")


def _stop_after(pid: int, shim: Shim) -> None:
    """Stop ``shim`` once process ``pid`` has ended: a pidfd turns readable when it does (the
    kernel's own notice, not a poll of the pid, which could be reused meanwhile)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        log.info("process %d, which the shim stops with, is gone; shutting down", pid)
    else:
        with os.fdopen(pidfd) as ended:
            select.select([ended], [], [])
        log.info("process %d, which the shim stops with, has ended; shutting down", pid)
    shim.stop()


def serve(config: ShimConfig) -> int:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("docker", "urllib3"):  # one line per HTTP request to Docker at debug
        logging.getLogger(chatty).setLevel(max(logging.INFO, logging.root.level))
    shim = Shim(config)
    shim.start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=shim.stop, name="shutdown").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if config.stop_with_pid is not None:
        threading.Thread(
            target=_stop_after, args=(config.stop_with_pid, shim), daemon=True, name="parent-watch"
        ).start()
    while not shim.stopped.wait(0.5):
        pass
    return 0
