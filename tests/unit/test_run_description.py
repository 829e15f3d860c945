"""The header says what the run tests; the closing line, which runtime answered."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import TypedDict, Unpack

import pytest

from harness import endpoints
from harness.embedded import EmbeddedShim
from harness.matrix.profiles import Profile
from harness.pytest_plugin.run_description import closing_line, header_lines
from harness.pytest_plugin.session import Settings


class SettingsOptions(TypedDict, total=False):
    """Settings' fields but run_id and shared_dir, which ``settings`` sets."""

    runtime_flag: str | None
    image_flag: str | None
    configured: tuple[str | None, str | None]
    timeout: float
    image_registry: str | None
    runtime_handler: str
    shim: EmbeddedShim


def settings(tmp_path: Path, **options: Unpack[SettingsOptions]) -> Settings:
    return Settings(run_id="r", shared_dir=tmp_path, **options)


def test_a_given_endpoint_is_named_with_its_source_and_the_profile(tmp_path: Path) -> None:
    profile = Profile("containerd-1.6", "", tmp_path / "p.yaml")
    (line,) = header_lines(settings(tmp_path, runtime_flag="/run/x.sock"), profile)
    assert line.endswith(
        "testing unix:///run/x.sock (from command line (--cri-endpoint)); profile containerd-1.6"
    )
    assert line.startswith("cri-conformance ")


def test_the_embedded_shim_is_named_with_a_runtime_socket_seen_in_its_usual_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONTAINER_RUNTIME_ENDPOINT", raising=False)
    monkeypatch.setenv("CRI_CONFIG_FILE", str(tmp_path / "no-config.yaml"))
    usual = tmp_path / "containerd.sock"
    monkeypatch.setattr(endpoints, "WELL_KNOWN_SOCKETS", (usual, tmp_path / "crio.sock"))
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(usual))
        shim, seen = header_lines(settings(tmp_path, shim=EmbeddedShim("shared-vm")), None)
    assert "testing the embedded reference shim (strategy shared-vm" in shim
    assert seen == (
        f"cri-conformance: a runtime socket exists at unix://{usual}; to test that runtime "
        f"instead, give --cri-endpoint unix://{usual}"
    )


def test_the_closing_line_names_the_runtime_that_answered(tmp_path: Path) -> None:
    run = settings(tmp_path)
    assert closing_line(run, None) is None
    run.endpoints_record.write_text(
        json.dumps(
            {
                "runtime": "unix:///run/c.sock",
                "image": "unix:///run/c.sock",
                "source": "environment (CONTAINER_RUNTIME_ENDPOINT)",
                "version": {
                    "runtime_name": "containerd",
                    "runtime_version": "1.6.20",
                    "runtime_api_version": "v1",
                },
            }
        )
    )
    assert closing_line(run, None) == (
        "cri-conformance: tested containerd 1.6.20 (CRI v1) at unix:///run/c.sock "
        "(from environment (CONTAINER_RUNTIME_ENDPOINT)); no runtime profile"
    )
