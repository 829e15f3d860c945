"""Drivers: how the contract suite makes each backend's workloads do what a test needs.

A test says what a workload does (a ``Script``: lines on stdout or stderr, then an exit code,
or run until stopped). On Docker the workload really runs it (a shell command line); the
unit-test fake and the double of Apple's CLI run nothing, so their drivers play the script
once the VM has started, as those tests do elsewhere. Everything else a test asks of the
backend itself, through ``VmBackend`` only: that is what the suite pins.
"""

from __future__ import annotations

import secrets
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from apple_double import CliDouble
from fake_backend import FakeBackend

from harness.bench.images import OwnImages
from harness.images.catalog import prepare
from harness.images.registry import DEFAULT_ADDRESS
from harness.ownership import RunOwnership, new_run_id
from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.base import (
    ExecResult,
    ImageInfo,
    Placement,
    PodNetworks,
    SecuritySpec,
    VmBackend,
    VmRole,
    VmSpec,
    VmState,
    pod_networks,
)
from reference_shim.backends.docker.backend import DockerBackend
from reference_shim.backends.docker.host import docker_host
from reference_shim.backends.microvm.backend import MicrovmBackend

BUSYBOX = "127.0.0.1:5000/cri-conformance/busybox:1.0"
PAUSE = "127.0.0.1:5000/cri-conformance/pause:3.9"
LABELS = {"io.cri-conformance.contract": "yes"}
# What every backend runs (Apple's CLI has no seccomp or AppArmor setting, so it refuses
# the runtime default, which CRI asks for explicitly).
UNCONFINED = SecuritySpec(seccomp="unconfined", apparmor="unconfined")
WAIT_S = 30.0


@dataclass(frozen=True)
class Script:
    """What a workload does once started: writes ``lines`` (stream, text) in order, then exits
    with ``exit_code``; with None it runs until stopped, and exits 143 on SIGTERM (its handler
    is set before the first line: a workload that is PID 1 of its PID namespace ignores SIGTERM
    until then, so a line read proves a stop from then on is seen)."""

    lines: tuple[tuple[str, str], ...] = ()
    exit_code: int | None = None

    def argv(self) -> tuple[str, ...]:
        """The same, as a busybox shell command line (for a backend that runs it)."""
        steps = ["trap 'exit 143' TERM"] if self.exit_code is None else []
        steps += [
            f"printf '%s\\n' {shlex.quote(text)}" + (" >&2" if stream == "stderr" else "")
            for stream, text in self.lines
        ]
        if self.exit_code is None:
            steps.append("while :; do sleep 0.1; done")
        else:
            steps.append(f"exit {self.exit_code}")
        return ("sh", "-c", "; ".join(steps))


class Follows(Protocol):
    """A test's watcher of a backend's changes: whether the backend said it follows."""

    follows: bool


W = TypeVar("W", bound=Follows)


@contextmanager
def watching(watch: Callable[[W, threading.Event], None], watcher: W, follows: bool) -> Iterator[W]:
    """``watch`` (``watch_changes``, ``watch_images``) reporting to ``watcher`` in a thread of
    its own, following already if the backend ``follows``; it must return once stopped."""
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(watcher, stop), daemon=True)
    thread.start()
    if follows:
        wait_for(lambda: watcher.follows)
    yield watcher
    stop.set()
    thread.join(WAIT_S)
    assert not thread.is_alive(), f"{watch.__name__} did not return once told to stop"


def wait_for(condition: Callable[[], bool], seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not so within {seconds:g}s"
        time.sleep(0.05)


@dataclass
class Driver:
    """One backend under test, and the VMs and networks a test made on it."""

    name: str
    backend: VmBackend
    unknown_id: str  # an id of this backend's shape that it never gave out
    # Given by a driver whose backend says it follows every change of its VMs and images
    # (VmChanges and ImageChanges): a reference to an image no one else uses, new at each
    # call, for the test that pulls and removes one and watches the reports.
    own_image: Callable[[], str] | None = None
    made: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)  # images of the test's own
    networks: list[str] = field(default_factory=list)
    _count: int = 0

    def image(self, reference: str) -> str:
        images = self.backend.images
        return (images.get(reference) or images.pull(reference, "", "")).id

    @property
    def follows(self) -> bool:
        return self.own_image is not None

    def pull_own(self) -> ImageInfo:
        """Pull an image of the test's own (a following driver's); ``clean_up`` removes it."""
        assert self.own_image is not None, f"the {self.name} backend does not follow its images"
        info = self.backend.images.pull(self.own_image(), "", "")
        self.pulled.append(info.id)
        return info

    def _next(self) -> int:
        self._count += 1
        return self._count

    def create(self, spec: VmSpec) -> str:
        vm_id = self.backend.create_vm(spec)
        self.made.append(vm_id)
        return vm_id

    def pod(self, network: str = "") -> tuple[str, str]:
        """A running pod VM on ``network`` (the backend's own by default): (pod id, VM id)."""
        pod_id = secrets.token_hex(32)
        spec = VmSpec(
            name=f"contract-pod-{pod_id[:12]}", image=self.image(PAUSE), argv=(),
            labels=dict(LABELS), placement=Placement.own_vm(network or self.backend.network()),
            role=VmRole.POD, pod_id=pod_id, object_id=pod_id,
            hostname=f"pod{self._next()}", shareable_ipc=True,
        )  # fmt: skip
        vm_id = self.create(spec)
        self.backend.start_vm(vm_id)
        return pod_id, vm_id

    def workload(
        self, script: Script, placement: Placement | None = None, pod_id: str = ""
    ) -> VmSpec:
        object_id = secrets.token_hex(32)
        return VmSpec(
            name=f"contract-ctr-{object_id[:12]}", image=self.image(BUSYBOX),
            argv=script.argv(), labels=dict(LABELS),
            placement=placement or Placement.own_vm(self.backend.network()),
            role=VmRole.WORKLOAD, pod_id=pod_id, object_id=object_id,
            hostname=f"vm{self._next()}", security=UNCONFINED,
        )  # fmt: skip

    def run(self, script: Script, placement: Placement | None = None, pod_id: str = "") -> str:
        """Create and start a workload doing ``script``; its VM id."""
        vm_id = self.create(self.workload(script, placement, pod_id))
        self.backend.start_vm(vm_id)
        self.play(vm_id, script)
        return vm_id

    def exited(self, vm_id: str) -> int | None:
        """The exit code, once the VM has exited."""
        wait_for(lambda: self.backend.inspect_vm(vm_id).state is VmState.EXITED)
        return self.backend.inspect_vm(vm_id).exit_code

    def pod_network(self, pod_id: str) -> str:
        name = self._pod_networks().create_pod_network(pod_id)
        self.networks.append(name)
        return name

    def _pod_networks(self) -> PodNetworks:
        networks = pod_networks(self.backend)
        assert networks is not None, f"the {self.name} backend declares no pod networks"
        return networks

    # -- what differs per backend -------------------------------------------------------

    def play(self, vm_id: str, script: Script) -> None:
        """Make the started workload do ``script``, for a backend that runs nothing."""

    def expect_exec(self, argv: list[str], result: ExecResult) -> None:
        """Make ``exec_sync(argv)`` answer ``result``, for a backend that runs nothing."""

    def clean_up(self) -> None:
        """Remove what the test made, whatever state it left it in."""
        for vm_id in reversed(self.made):
            self.backend.remove_vm(vm_id)
        for name in self.networks:
            self._pod_networks().remove_pod_network(name)
        for image_id in self.pulled:
            if self.backend.images.get(image_id) is not None:
                self.backend.images.remove(image_id)
        self.made.clear()
        self.networks.clear()
        self.pulled.clear()


def _fake_own_image() -> str:
    """A name only: the fake backend "pulls" any reference."""
    return f"127.0.0.1:5000/contract/own:{secrets.token_hex(4)}"


def _pushed_own_image() -> str:
    """A distinct image of the run's own, pushed to the local registry."""
    catalog = prepare(DEFAULT_ADDRESS, publish=False)
    (reference,) = OwnImages(catalog.busybox, RunOwnership(new_run_id())).push(1)
    return reference


class FakeDriver(Driver):
    def __init__(self) -> None:
        self.fake = FakeBackend()
        super().__init__("fake", self.fake, unknown_id="f" * 64, own_image=_fake_own_image)

    def play(self, vm_id: str, script: Script) -> None:
        for stream, text in script.lines:
            self.fake.emit(vm_id, stream, text.encode())
        if script.exit_code is not None:
            self.fake.exit(vm_id, script.exit_code)

    def expect_exec(self, argv: list[str], result: ExecResult) -> None:
        self.fake.exec_replies[tuple(argv)] = result


class AppleDriver(Driver):
    def __init__(self, folder: Path) -> None:
        self.double = CliDouble(folder / "app-root")
        for number, reference in enumerate((BUSYBOX, PAUSE), start=1):
            self.double.publish(reference, number)
        backend = AppleBackend(self.double.cli(), folder / "state", secrets.token_hex(8))
        super().__init__("apple", backend, unknown_id="gone.000000000000")

    def play(self, vm_id: str, script: Script) -> None:
        for stream, text in script.lines:
            self.double.workload_prints(vm_id, stream, text + "\n")
        if script.exit_code is not None:
            self.double.workload_exits(vm_id, script.exit_code)

    def expect_exec(self, argv: list[str], result: ExecResult) -> None:
        self.double.reply_to_exec(
            argv, stdout=result.stdout.decode(), stderr=result.stderr.decode(),
            exit_code=result.exit_code,
        )  # fmt: skip


class DockerDriver(Driver):
    """The real Docker Engine of scripts/services (DOCKER_HOST, else the project's socket)."""

    def __init__(self) -> None:
        backend = DockerBackend(docker_host(), secrets.token_hex(8))
        super().__init__("docker", backend, unknown_id="0" * 64, own_image=_pushed_own_image)


class MicrovmDriver(Driver):
    """Real QEMU microVMs (scripts/services microvm), images from the local registry."""

    def __init__(self, folder: Path) -> None:
        backend = MicrovmBackend(folder / "state", secrets.token_hex(8))
        super().__init__("microvm", backend, unknown_id="0" * 64)
