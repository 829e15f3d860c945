"""Start the reference shim as a subprocess for a test session (the harness's embedded default).

with ShimLauncher(backend="docker", strategy="reject") as shim:
    client = CriClient(Endpoints(shim.endpoint, shim.endpoint, "embedded"), timeout=30)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

from reference_shim.backends import backend_package
from reference_shim.backends.docker.host import docker_host
from reference_shim.config import CONTAINER_CLI_ENV, DEFAULT_POD_IMAGE, ShimConfig

_STDERR_TAIL_LINES = 20
_POLL_S = 0.1


class LaunchError(Exception):
    """The shim could not be started; the message says why and what to do."""


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(lines[-_STDERR_TAIL_LINES:]) or "(no output)"


class ShimLauncher:
    """One shim subprocess on a socket in a temporary folder; ``stop`` ends it."""

    def __init__(
        self,
        backend: str = "docker",
        strategy: str = "reject",
        state_dir: Path | None = None,
        pod_image: str = DEFAULT_POD_IMAGE,
        docker: str | None = None,
        log_level: str = "info",
        ready_timeout: float = 30.0,
        container_cli: str | None = None,
        extra_args: Sequence[str] = (),
        stop_with_pid: int | None = None,
    ) -> None:
        """``extra_args`` go to the shim's command line as they are (``--help`` lists them).
        The shim stops once process ``stop_with_pid`` ends (default: this one), so that it
        does not outlive a harness that is killed."""
        self.backend = backend
        self.container_cli = container_cli
        self.extra_args = tuple(extra_args)
        self.stop_with_pid = stop_with_pid or os.getpid()
        self.strategy = strategy
        self.pod_image = pod_image
        self.docker_host = docker_host(docker)
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        # A short path of its own: unix socket paths are limited to 107 bytes.
        self._workdir = Path(tempfile.mkdtemp(prefix="cri-shim-"))
        self.state_dir = state_dir or self._workdir / "state"
        self.socket = self._workdir / "cri.sock"
        self.stderr_path = self._workdir / "shim.stderr"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "reference_shim",
            "--socket", str(self.socket),
            "--state-dir", str(self.state_dir),
            "--backend", self.backend,
            "--strategy", self.strategy,
            "--docker-host", self.docker_host,
            "--pod-image", self.pod_image,
            "--log-level", self.log_level,
            "--stop-with-pid", str(self.stop_with_pid),
        ]  # fmt: skip
        if self.container_cli:
            command += ["--container-cli", self.container_cli]
        return [*command, *self.extra_args]

    def config(self) -> ShimConfig:
        """The shim's settings, as its command line gives them."""
        return ShimConfig(
            socket=self.socket, state_dir=self.state_dir, backend=self.backend,
            strategy=self.strategy, docker_host=self.docker_host, pod_image=self.pod_image,
            log_level=self.log_level,
            container_cli=self.container_cli or os.environ.get(CONTAINER_CLI_ENV, "container"),
        )  # fmt: skip

    def start(self) -> ShimLauncher:
        problem = backend_package(self.backend).preflight(self.config())
        if problem is not None:
            raise LaunchError(problem)
        with self.stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        last_error = "no socket yet"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LaunchError(
                    f"the shim exited with code {self._process.returncode} before it served "
                    f"CRI; its output:\n{_tail(self.stderr_path)}"
                )
            if self.socket.exists():
                try:
                    with grpc.insecure_channel(self.endpoint) as channel:
                        stub = cri_grpc.RuntimeServiceStub(channel)
                        stub.Version(cri.VersionRequest(version="v1"), timeout=2)
                    return
                except grpc.RpcError as error:
                    last_error = str(error.code())
            time.sleep(_POLL_S)
        self.kill()
        raise LaunchError(
            f"the shim did not answer Version at {self.endpoint} within "
            f"{self.ready_timeout:g}s ({last_error}); its output:\n{_tail(self.stderr_path)}"
        )

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        process = self._process
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """SIGKILL at once (also what a crash looks like to a restarted shim)."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        return process.wait()

    def stderr_tail(self) -> str:
        return _tail(self.stderr_path)

    def close(self) -> None:
        """Stop the shim and remove its socket folder (the state dir stays)."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> ShimLauncher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
