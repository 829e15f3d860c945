"""Multi-container pods: one network namespace for every container of the pod.

Containers of a pod reach each other on localhost, see the same interfaces and the pod IP,
and share the pod's DNS and hosts files; a port mapping reaches whichever container listens.
"""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness import probes
from harness.client import CriClient
from harness.cri_logs import wait_for_line
from harness.factories import ContainerFactory, PodFactory
from harness.images.catalog import ImageCatalog
from harness.network import LOOPBACK, free_loopback_port, http_get, http_url
from harness.readiness import start_webserver, wait_for_listener

WEB_PAGE = b"cri-conformance web server\n"


@pytest.mark.feature("multi.network.localhost-tcp", shape="multi")
def test_containers_talk_tcp_over_localhost(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("tcp")
    # The server's stdin is a pipe that stays open: with an empty stdin (the container's
    # /dev/null) busybox nc may hang up before the client's bytes arrive.
    server = make_container(pod, "server", command=["sh", "-c", "sleep 3600 | nc -l -p 7001"])
    client = make_container(pod, "client")
    wait_for_listener(cri, server, 7001)
    probes.shell_in(cri, client, "echo hello-over-localhost | nc 127.0.0.1 7001")
    wait_for_line(server, "hello-over-localhost")


@pytest.mark.feature("multi.network.localhost-http", shape="multi")
def test_a_container_gets_the_web_page_of_another_on_localhost(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    pod = make_pod("http")
    start_webserver(cri, make_container, images, pod)
    client = make_container(pod, "client")
    page = probes.exec_ok(cri, client, "wget", "-qO-", "http://127.0.0.1/")
    assert page == WEB_PAGE.decode()


@pytest.mark.feature("multi.network.listeners", shape="multi")
def test_a_container_sees_the_listening_socket_of_another(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("listen")
    listener = make_container(pod, "listener", command=["nc", "-l", "-p", "7002"])
    other = make_container(pod, "other")
    wait_for_listener(cri, listener, 7002)
    seen = probes.listening_ports(cri, other)
    assert 7002 in seen, f"the other container sees listening ports {sorted(seen)}, not 7002"


@pytest.mark.feature("multi.network.pod-ip", shape="multi")
def test_every_container_has_the_pod_ip(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    pod = make_pod("ip")
    containers = [make_container(pod, name) for name in ("one", "two", "three")]
    network = cri.pod_status(pod.id).status.network
    assert network.ip, "PodSandboxStatus reports no pod IP"
    seen = {container.name: probes.ipv4_addresses_in(cri, container.id) for container in containers}
    for name, addresses in seen.items():
        assert network.ip in addresses, f"container {name} has {addresses}, pod IP {network.ip}"
    assert len({frozenset(addresses) for addresses in seen.values()}) == 1, seen


@pytest.mark.feature("multi.network.port-mapping", shape="multi")
def test_a_host_port_reaches_a_container_that_is_not_the_first(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    host_port = free_loopback_port()
    mapping = api.PortMapping(
        protocol=api.TCP, container_port=80, host_port=host_port, host_ip=LOOPBACK
    )
    pod = make_pod("ports", port_mappings=[mapping])
    make_container(pod, "first")
    start_webserver(cri, make_container, images, pod)
    answer = http_get(http_url(LOOPBACK, host_port))
    assert (answer.status, answer.body) == (200, WEB_PAGE), answer


@pytest.mark.feature("multi.network.resolv-conf", shape="multi")
def test_every_container_has_the_pods_dns_config(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    dns = api.DNSConfig(
        servers=["127.0.0.53", "127.0.0.54"],
        searches=["conformance.example", "svc.example"],
        options=["ndots:3", "timeout:2"],
    )
    pod = make_pod("dns", dns_config=dns)
    containers = [make_container(pod, name) for name in ("one", "two")]
    contents = {
        probes.read_file_in(cri, container.id, "/etc/resolv.conf") for container in containers
    }
    assert len(contents) == 1, f"the containers see different resolv.conf files: {contents}"
    directives = probes.resolv_conf_in(cri, containers[0].id)
    assert directives.get("nameserver") == list(dns.servers)
    assert directives.get("search") == list(dns.searches)
    assert directives.get("options") == list(dns.options)


@pytest.mark.feature("multi.network.hosts", shape="multi")
def test_every_container_has_the_same_hosts_file_and_the_pods_hostname(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    # api.proto PodSandboxConfig.hostname: the "Hostname of the sandbox", which its containers
    # share with its network; they resolve names through one hosts file.
    pod = make_pod("hosts", hostname="hosts-pod")
    containers = [make_container(pod, name) for name in ("one", "two")]
    contents = {probes.read_file_in(cri, container.id, "/etc/hosts") for container in containers}
    assert len(contents) == 1, f"the containers see different /etc/hosts files: {contents}"
    entries = [line.split() for line in contents.pop().splitlines()]
    assert any(entry[:1] == ["127.0.0.1"] and "localhost" in entry for entry in entries)
    names = {container.name: probes.hostname_in(cri, container.id) for container in containers}
    assert set(names.values()) == {"hosts-pod"}, (
        f"the pod's hostname is hosts-pod; inside, the containers are named {names}"
    )
