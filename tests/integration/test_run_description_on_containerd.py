"""A run says what it tests: the endpoint and where it came from in the header, the runtime
that answered at the end and in the matrix; a socket that is not there fails at once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

ONE_CELL = """
import pytest

@pytest.mark.feature("runtime.version")
def test_version(cri):
    assert cri.version().runtime_name
"""


def test_the_header_and_the_end_name_endpoint_source_runtime_and_profile(
    pytester: pytest.Pytester, containerd_endpoint: str
) -> None:
    pytester.makepyfile(test_cell=ONE_CELL)
    result = pytester.runpytest_subprocess(
        "--cri-endpoint", containerd_endpoint, "--cri-runtime-profile", "containerd-1.6"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"cri-conformance *: testing {containerd_endpoint} (from command line "
            "(--cri-endpoint)); profile containerd-1.6",
            f"cri-conformance: tested containerd 1.6.* (CRI v1) at {containerd_endpoint} "
            "(from command line (--cri-endpoint)); profile containerd-1.6",
        ]
    )
    (run,) = json.loads((pytester.path / "reports" / "matrix.json").read_text())["runtimes"]
    assert run["endpoint_source"] == "command line (--cri-endpoint)"
    assert (
        "(from command line (--cri-endpoint))" in (pytester.path / "reports/matrix.md").read_text()
    )


def test_crictls_config_file_variable_names_the_endpoint(
    pytester: pytest.Pytester, containerd_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = pytester.path / "crictl-elsewhere.yaml"
    config.write_text(f"runtime-endpoint: {containerd_endpoint}\n")
    monkeypatch.delenv("CONTAINER_RUNTIME_ENDPOINT", raising=False)
    monkeypatch.setenv("CRI_CONFIG_FILE", str(config))
    pytester.makeconftest("CRI_CONFORMANCE_SUITE = True\n")
    pytester.makepyfile(test_cell=ONE_CELL)
    result = pytester.runpytest_subprocess("--cri-runtime-profile", "containerd-1.6")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines([f"*tested containerd * (from CRI_CONFIG_FILE ({config}))*"])


def test_a_socket_that_is_not_there_fails_at_once(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(test_cell=ONE_CELL)
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--cri-endpoint", f"unix://{tmp_path}/absent.sock", "--cri-timeout", "30"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert time.monotonic() - started < 15  # the child's start-up, not the 30 s call timeout
    assert f"runtime endpoint unix://{tmp_path}/absent.sock (from command line" in (
        result.stdout.str() + result.stderr.str()
    )
