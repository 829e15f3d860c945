"""Waiting for a workload to be ready before a test acts on it.

A test that stops, connects to or reads from a workload must not act before the workload has
done its part, or a correct runtime fails: a StopContainer that arrives before the shell has
run ``trap '' TERM`` ends the container by SIGTERM (exit 143, not the 137 of the kill after
the timeout), and a connect before the server listens is refused. So the workload gives a sign
from inside its container (a file it writes once set up, a socket in LISTEN state) and the test
waits for that sign through ExecSync, never for a fixed time. The act that follows is then
tried once: a retry loop around the behaviour under test would hide a runtime that gets it
right only now and then.
"""

from __future__ import annotations

from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod
from harness.images.catalog import ImageCatalog
from harness.probes import Target, listening_ports, target_id, wait_for_file_in
from harness.waiting import DEFAULT_TIMEOUT, wait_until

# Written by the workload's own shell once its set-up is done; /tmp is in every test image.
READY_FILE = "/tmp/cri-conformance-ready"
WEB_PORT = 80


def after_setup(setup: str, then: str) -> list[str]:
    """A ``sh -c`` command: run ``setup``, mark the container ready, then run ``then``."""
    return ["sh", "-c", f"{setup} && touch {READY_FILE} && {then}"]


def wait_until_set_up(cri: CriClient, target: Target, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Return once the ``after_setup`` workload in ``target`` has finished its set-up."""
    wait_for_file_in(cri, target, READY_FILE, timeout)


def wait_for_listener(
    cri: CriClient, target: Target, port: int, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Return once a TCP socket on ``port`` is in LISTEN state inside ``target``."""
    wait_until(
        lambda: listening_ports(cri, target),
        lambda ports: port in ports,
        what=f"container {target_id(target)[:13]} to listen on TCP port {port}",
        timeout=timeout,
    )


def start_webserver(
    cri: CriClient,
    make_container: ContainerFactory,
    images: ImageCatalog,
    pod: Pod,
    name: str = "web",
) -> Container:
    """A container running the webserver image's own entrypoint (command=[] keeps it), once
    it listens on port 80."""
    container = make_container(pod, name, image=images["webserver"].ref, command=[])
    wait_for_listener(cri, container, WEB_PORT)
    return container
