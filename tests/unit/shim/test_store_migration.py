"""State written by the first shim (schema 1, strategy reject only) is read by this one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shim_helpers import container_config, pod_config

from reference_shim.state.store import SCHEMA_VERSION, Store

SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pods (
    id TEXT PRIMARY KEY, config BLOB NOT NULL, runtime_handler TEXT NOT NULL,
    created_at INTEGER NOT NULL, state INTEGER NOT NULL, vm_id TEXT NOT NULL, ip TEXT NOT NULL
);
CREATE TABLE containers (
    id TEXT PRIMARY KEY, pod_id TEXT NOT NULL, config BLOB NOT NULL, created_at INTEGER NOT NULL,
    image_ref TEXT NOT NULL, image_id TEXT NOT NULL, log_path TEXT NOT NULL,
    state INTEGER NOT NULL, vm_id TEXT NOT NULL, started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL, exit_code INTEGER NOT NULL, reason TEXT NOT NULL,
    message TEXT NOT NULL, resources BLOB NOT NULL, user BLOB NOT NULL
);
INSERT INTO meta VALUES ('schema', '1'), ('instance', 'abc');
"""


def test_schema_1_state_is_migrated_with_every_container_in_its_pod_vm(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        db.execute(
            "INSERT INTO pods VALUES ('p1', ?, '', 1, 0, 'vm-p', '10.0.0.2')",
            (pod_config().SerializeToString(),),
        )
        db.execute(
            "INSERT INTO containers VALUES "
            "('c1', 'p1', ?, 2, 'ref', 'img', '', 1, 'vm-c', 3, 0, 0, '', '', x'', x'')",
            (container_config().SerializeToString(),),
        )
    store = Store(path)
    (pod,), (container,) = store.load_pods(), store.load_containers()
    assert (pod.id, pod.ip, pod.network, pod.shim_ports) == ("p1", "10.0.0.2", "", False)
    assert (container.id, container.vm_id, container.in_pod_vm, container.ip) == (
        "c1",
        "vm-c",
        True,
        "",
    )
    assert (store.meta("schema"), store.meta("instance")) == (str(SCHEMA_VERSION), "abc")
    store.close()
    Store(path).close()  # opening migrated state again changes nothing
