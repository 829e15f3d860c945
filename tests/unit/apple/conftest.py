"""The apple backend over the recorded-behaviour double of Apple's CLI (no Mac needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apple_double import BUSYBOX, ENTRYPOINT, CliDouble
from apple_shims import Shims

from reference_shim.backends.apple.backend import AppleBackend

INSTANCE = "0123456789abcdef"


@pytest.fixture
def double(tmp_path: Path) -> CliDouble:
    double = CliDouble(tmp_path / "app-root")
    double.publish(BUSYBOX, 1)
    double.publish(
        ENTRYPOINT,
        2,
        {"Entrypoint": ["/bin/entry"], "Cmd": ["serve"], "User": "1234:1234", "WorkingDir": "/srv"},
    )
    return double


@pytest.fixture
def backend(double: CliDouble, tmp_path: Path) -> Iterator[AppleBackend]:
    backend = AppleBackend(double.cli(), tmp_path / "state" / "apple", INSTANCE)
    backend.setup()
    yield backend
    double.settings(running=True, start_error="")
    for vm_id in backend.list_vms():  # ends the keepers the test left running
        backend.remove_vm(vm_id)


@pytest.fixture
def shims(tmp_path: Path, double: CliDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shims]:
    monkeypatch.setenv("CONTAINER_APP_ROOT", str(double.root))
    shims = Shims(tmp_path, double)
    yield shims
    client = shims.start()
    for pod in client.list_pods():
        client.remove_pod(pod.id)
    shims.stop()
    assert double.containers() == [], "the shim leaked Apple containers"
