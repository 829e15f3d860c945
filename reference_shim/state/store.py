"""Persistent state in SQLite, so a restarted shim (even after SIGKILL) knows every object.

Writes go straight to disk (WAL, one transaction each); the CRI layer keeps its own
in-memory view and writes through.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc
from cri_api.v1 import api_pb2 as cri

from reference_shim.errors import ShimError
from reference_shim.state.records import ContainerRecord, PodRecord, PodTeardown

SCHEMA_VERSION = 3
_TEARDOWNS_TABLE = """CREATE TABLE IF NOT EXISTS teardowns (
    pod_id TEXT PRIMARY KEY, pod_vm TEXT NOT NULL, container_vms TEXT NOT NULL,
    network TEXT NOT NULL
)"""
# What each older schema needs to become the current one (2: multi-container strategies;
# 3: pod teardowns that outlive RemovePodSandbox).
_MIGRATIONS = {
    1: (
        "ALTER TABLE pods ADD COLUMN network TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE pods ADD COLUMN shim_ports INTEGER NOT NULL DEFAULT 0",
        # schema 1 knew only strategy reject, whose container runs inside the pod VM
        "ALTER TABLE containers ADD COLUMN in_pod_vm INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE containers ADD COLUMN ip TEXT NOT NULL DEFAULT ''",
    ),
    2: (_TEARDOWNS_TABLE,),
}
Statement = tuple[str, tuple[object, ...]]


class StateError(ShimError):
    """The state dir cannot be used; the message says why and what to do."""

    code = grpc.StatusCode.FAILED_PRECONDITION


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pods (
    id TEXT PRIMARY KEY, config BLOB NOT NULL, runtime_handler TEXT NOT NULL,
    created_at INTEGER NOT NULL, state INTEGER NOT NULL, vm_id TEXT NOT NULL, ip TEXT NOT NULL,
    network TEXT NOT NULL, shim_ports INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, pod_id TEXT NOT NULL, config BLOB NOT NULL, created_at INTEGER NOT NULL,
    image_ref TEXT NOT NULL, image_id TEXT NOT NULL, log_path TEXT NOT NULL,
    state INTEGER NOT NULL, vm_id TEXT NOT NULL, started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL, exit_code INTEGER NOT NULL, reason TEXT NOT NULL,
    message TEXT NOT NULL, resources BLOB NOT NULL, user BLOB NOT NULL,
    in_pod_vm INTEGER NOT NULL, ip TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_progress (
    container_id TEXT NOT NULL, stream TEXT NOT NULL, timestamp INTEGER NOT NULL,
    bytes INTEGER NOT NULL, done INTEGER NOT NULL, PRIMARY KEY (container_id, stream)
);
{_TEARDOWNS_TABLE};
"""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        fresh = not self._execute("SELECT name FROM sqlite_master WHERE name = 'meta'")
        self._db.executescript(_SCHEMA)
        self._check_schema(path, fresh)

    def _check_schema(self, path: Path, fresh: bool) -> None:
        """Bring older state up to date; refuse state a newer layout wrote, not misread it."""
        found = self.meta("schema")
        if found is None and fresh:
            self.set_meta("schema", str(SCHEMA_VERSION))
            return
        version = int(found or 0)
        while version in _MIGRATIONS:
            self._atomically(
                [
                    *((statement, ()) for statement in _MIGRATIONS[version]),
                    ("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                     (str(version + 1),)),
                ]
            )  # fmt: skip
            version += 1
        if version != SCHEMA_VERSION:
            self.close()
            raise StateError(
                f"{path} holds shim state of schema {found}, this shim reads schema "
                f"{SCHEMA_VERSION}: remove the pods with the shim that made them, or move the "
                "state dir away"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _atomically(self, statements: Iterable[Statement]) -> None:
        """All the statements or none, even if the shim is killed half-way."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        rows = self._execute("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- pods ---------------------------------------------------------------------------

    def save_pod(self, pod: PodRecord) -> None:
        self._execute(
            "INSERT OR REPLACE INTO pods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pod.id,
                pod.config.SerializeToString(),
                pod.runtime_handler,
                pod.created_at,
                pod.state,
                pod.vm_id,
                pod.ip,
                pod.network,
                int(pod.shim_ports),
            ),
        )

    def delete_pod(self, pod_id: str) -> None:
        self._execute("DELETE FROM pods WHERE id = ?", (pod_id,))

    def retire_pod(self, teardown: PodTeardown) -> None:
        """Replace the pod's records (its containers' too) with its teardown, atomically: a
        shim killed at any moment restarts either with the pod or with its teardown."""
        pod_id = (teardown.pod_id,)
        self._atomically(
            [
                ("DELETE FROM log_progress WHERE container_id IN "
                 "(SELECT id FROM containers WHERE pod_id = ?)", pod_id),
                ("DELETE FROM containers WHERE pod_id = ?", pod_id),
                ("DELETE FROM pods WHERE id = ?", pod_id),
                ("INSERT OR REPLACE INTO teardowns VALUES (?, ?, ?, ?)",
                 (teardown.pod_id, teardown.pod_vm, json.dumps(teardown.container_vms),
                  teardown.network)),
            ]
        )  # fmt: skip

    # -- teardowns ----------------------------------------------------------------------

    def delete_teardown(self, pod_id: str) -> None:
        self._execute("DELETE FROM teardowns WHERE pod_id = ?", (pod_id,))

    def load_teardowns(self) -> list[PodTeardown]:
        return [
            PodTeardown(
                pod_id=str(pod_id),
                pod_vm=str(pod_vm),
                container_vms=tuple(str(vm) for vm in json.loads(container_vms)),
                network=str(network),
            )
            for pod_id, pod_vm, container_vms, network in self._execute(
                "SELECT pod_id, pod_vm, container_vms, network FROM teardowns"
            )
        ]

    def load_pods(self) -> list[PodRecord]:
        pods = []
        for row in self._execute("SELECT * FROM pods ORDER BY created_at"):
            pod_id, config, handler, created_at, state, vm_id, ip, network, shim_ports = row
            pods.append(
                PodRecord(
                    id=str(pod_id),
                    config=cri.PodSandboxConfig.FromString(bytes(config)),
                    runtime_handler=str(handler),
                    created_at=int(created_at),
                    state=int(state),
                    vm_id=str(vm_id),
                    ip=str(ip),
                    network=str(network),
                    shim_ports=bool(shim_ports),
                )
            )
        return pods

    # -- containers ---------------------------------------------------------------------

    def save_container(self, container: ContainerRecord) -> None:
        self._execute(
            "INSERT OR REPLACE INTO containers VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                container.id,
                container.pod_id,
                container.config.SerializeToString(),
                container.created_at,
                container.image_ref,
                container.image_id,
                container.log_path,
                container.state,
                container.vm_id,
                container.started_at,
                container.finished_at,
                container.exit_code,
                container.reason,
                container.message,
                container.resources.SerializeToString(),
                container.user.SerializeToString(),
                int(container.in_pod_vm),
                container.ip,
            ),
        )

    def delete_container(self, container_id: str) -> None:
        self._execute("DELETE FROM containers WHERE id = ?", (container_id,))
        self._execute("DELETE FROM log_progress WHERE container_id = ?", (container_id,))

    def load_containers(self) -> list[ContainerRecord]:
        containers = []
        for row in self._execute("SELECT * FROM containers ORDER BY created_at"):
            (
                container_id,
                pod_id,
                config,
                created_at,
                image_ref,
                image_id,
                log_path,
                state,
                vm_id,
                started_at,
                finished_at,
                exit_code,
                reason,
                message,
                resources,
                user,
                in_pod_vm,
                ip,
            ) = row
            containers.append(
                ContainerRecord(
                    id=str(container_id),
                    pod_id=str(pod_id),
                    config=cri.ContainerConfig.FromString(bytes(config)),
                    created_at=int(created_at),
                    image_ref=str(image_ref),
                    image_id=str(image_id),
                    log_path=str(log_path),
                    state=int(state),
                    vm_id=str(vm_id),
                    started_at=int(started_at),
                    finished_at=int(finished_at),
                    exit_code=int(exit_code),
                    reason=str(reason),
                    message=str(message),
                    resources=cri.LinuxContainerResources.FromString(bytes(resources)),
                    user=cri.LinuxContainerUser.FromString(bytes(user)),
                    in_pod_vm=bool(in_pod_vm),
                    ip=str(ip),
                )
            )
        return containers

    # -- log progress -------------------------------------------------------------------

    def log_progress(self, container_id: str, stream: str) -> tuple[int, int, bool]:
        """The newest timestamp written for this stream, the bytes of text written with that
        timestamp, and whether the stream ended."""
        rows = self._execute(
            "SELECT timestamp, bytes, done FROM log_progress WHERE container_id = ? AND stream = ?",
            (container_id, stream),
        )
        if not rows:
            return 0, 0, False
        return int(rows[0][0]), int(rows[0][1]), bool(rows[0][2])

    def save_log_progress(
        self, container_id: str, stream: str, timestamp: int, size: int, done: bool
    ) -> None:
        self._execute(
            "INSERT OR REPLACE INTO log_progress VALUES (?, ?, ?, ?, ?)",
            (container_id, stream, timestamp, size, int(done)),
        )
