"""The shim's userspace host-port relays (separate-vms, the microvm backend), on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from reference_shim.backends.base import PortSpec
from reference_shim.errors import FailedPrecondition
from reference_shim.relays import HostPorts

NOBODY = "127.0.0.3"  # a loopback address nothing in these tests listens on


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A server on 127.0.0.1 that answers each connection with 'echo:' and what it got."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                data = b""
                while chunk := connection.recv(1024):
                    data += chunk
                connection.sendall(b"echo:" + data)

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


@pytest.fixture
def host_ports() -> Iterator[HostPorts]:
    ports = HostPorts()
    yield ports
    ports.close_all()


def exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(1024):
            answer += chunk
        return answer


def mapping(container_port: int, host_port: int) -> PortSpec:
    return PortSpec("tcp", container_port, host_port, host_ip="127.0.0.1")


def test_a_connection_goes_to_the_first_address_that_accepts(
    host_ports: HostPorts, echo_server: int
) -> None:
    host_port = free_port()
    tried: list[list[str]] = []

    def addresses() -> list[str]:
        tried.append([NOBODY, "127.0.0.1"])
        return tried[-1]

    host_ports.open("pod", [mapping(echo_server, host_port)], addresses)
    assert exchange(host_port, b"x" * 100_000) == b"echo:" + b"x" * 100_000
    assert exchange(host_port, b"again") == b"echo:again"
    assert len(tried) == 2  # the addresses are asked again for every connection


def test_with_nothing_listening_the_client_sees_the_connection_end(
    host_ports: HostPorts, echo_server: int
) -> None:
    host_port = free_port()
    host_ports.open("pod", [mapping(echo_server, host_port)], lambda: [NOBODY])
    with socket.create_connection(("127.0.0.1", host_port), timeout=5) as client:
        try:
            answer = client.recv(1024)
        except ConnectionResetError:
            answer = b""
    assert answer == b""


def test_a_port_in_use_is_refused_and_nothing_of_the_pod_stays_open(
    host_ports: HostPorts, echo_server: int
) -> None:
    free, taken = free_port(), echo_server
    with pytest.raises(FailedPrecondition, match=f"127.0.0.1:{taken}/tcp"):
        host_ports.open("pod", [mapping(80, free), mapping(80, taken)], lambda: ["127.0.0.1"])
    with socket.create_server(("127.0.0.1", free)):
        pass  # the first listener was closed again


def test_closing_a_pod_stops_listening(host_ports: HostPorts, echo_server: int) -> None:
    host_port = free_port()
    host_ports.open("pod", [mapping(echo_server, host_port)], lambda: ["127.0.0.1"])
    host_ports.close("pod")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", host_port), timeout=5).close()


@pytest.fixture
def udp_echo() -> Iterator[int]:
    """A UDP server on 127.0.0.1 that answers each datagram with 'echo:' and the datagram."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                datagram, client = server.recvfrom(65535)
            except OSError:
                return
            server.sendto(b"echo:" + datagram, client)

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


def test_udp_datagrams_reach_the_address_and_the_answers_go_back_to_each_client(
    host_ports: HostPorts, udp_echo: int
) -> None:
    host_port = free_port()
    host_ports.open(
        "pod", [PortSpec("udp", udp_echo, host_port, "127.0.0.1")], lambda: ["127.0.0.1"]
    )
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for number, client in enumerate(clients):
        client.settimeout(5)
        client.sendto(f"from-{number}".encode(), ("127.0.0.1", host_port))
    assert [client.recv(100) for client in clients] == [b"echo:from-0", b"echo:from-1"]
    clients[0].sendto(b"again", ("127.0.0.1", host_port))
    assert clients[0].recv(100) == b"echo:again"
    host_ports.close("pod")
    for client in clients:
        client.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rebound:
        rebound.bind(("127.0.0.1", host_port))  # the relay let the port go
