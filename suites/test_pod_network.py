"""Pod networking and naming: pod IP, hostname, DNS config, port mappings.

Each value set in PodSandboxConfig is checked where the workload sees it: inside a container
of the pod (ExecSync), or, for served ports, from the test process over loopback or the pod IP.
"""

from __future__ import annotations

import ipaddress

import pytest
from cri_api.v1 import api_pb2 as api

from harness.client import CriClient
from harness.factories import Container, ContainerFactory, Pod, PodFactory
from harness.images.catalog import ImageCatalog
from harness.network import LOOPBACK, free_loopback_port, http_get, http_url
from harness.probes import exec_ok, ipv4_addresses_in, resolv_conf_in
from harness.readiness import WEB_PORT, start_webserver

DNS = api.DNSConfig(
    servers=["10.10.10.10", "10.10.10.11"],
    searches=["one.cri-conformance.test", "two.cri-conformance.test"],
    options=["ndots:8", "timeout:2"],
)


def web_page(images: ImageCatalog) -> bytes:
    """The page the webserver image serves, as its recipe writes it."""
    (index,) = (item for item in images["webserver"].built.recipe.files if "index" in item.path)
    return index.content.encode()


@pytest.mark.feature("pod.status.network")
def test_pod_status_reports_a_valid_pod_ip(cri: CriClient, shared_pod: Pod) -> None:
    network = cri.pod_status(shared_pod.id).status.network
    assert network.ip, "PodSandboxStatus reports no pod IP"
    address = ipaddress.ip_address(network.ip)
    assert not address.is_unspecified
    assert not address.is_loopback, f"the pod IP {address} is a loopback address"


@pytest.mark.feature("pod.network.ip-inside")
def test_the_pod_ip_is_an_address_of_the_container(
    cri: CriClient, shared_container: Container
) -> None:
    pod_ip = cri.pod_status(shared_container.pod.id).status.network.ip
    inside = ipv4_addresses_in(cri, shared_container.id)
    assert pod_ip in inside, f"PodSandboxStatus says {pod_ip}; the container has {inside}"


@pytest.mark.feature("pod.hostname")
def test_the_container_sees_the_pod_hostname(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory
) -> None:
    container = make_container(make_pod(hostname="conformance-host"))
    assert exec_ok(cri, container.id, "hostname").strip() == "conformance-host"


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        pytest.param(
            "nameserver",
            DNS.servers,
            marks=pytest.mark.feature("pod.dns-config.servers"),
            id="servers",
        ),
        pytest.param(
            "search",
            DNS.searches,
            marks=pytest.mark.feature("pod.dns-config.searches"),
            id="searches",
        ),
        pytest.param(
            "options",
            DNS.options,
            marks=pytest.mark.feature("pod.dns-config.options"),
            id="options",
        ),
    ],
)
def test_the_dns_config_is_written_to_resolv_conf_in_order(
    cri: CriClient,
    make_pod: PodFactory,
    make_container: ContainerFactory,
    keyword: str,
    expected: list[str],
) -> None:
    container = make_container(make_pod("dns", dns_config=DNS))
    resolv = resolv_conf_in(cri, container.id)
    assert resolv.get(keyword) == list(expected), (
        f"/etc/resolv.conf {keyword} in the container: {resolv.get(keyword)}, "
        f"expected {list(expected)} from PodSandboxConfig.dns_config"
    )


@pytest.mark.feature("pod.port-mapping.host-port")
def test_a_host_port_on_loopback_reaches_the_container_port(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    host_port = free_loopback_port()
    mapping = api.PortMapping(
        protocol=api.TCP, container_port=WEB_PORT, host_port=host_port, host_ip=LOOPBACK
    )
    pod = make_pod("ports", port_mappings=[mapping])
    start_webserver(cri, make_container, images, pod)
    answer = http_get(http_url(LOOPBACK, host_port))
    assert (answer.status, answer.body) == (200, web_page(images)), answer


@pytest.mark.feature("pod.network.pod-ip-reachable")
def test_a_container_port_is_served_on_the_pod_ip(
    cri: CriClient, make_pod: PodFactory, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    # A pod of its own: whatever listens in a pod answers on its IP, so a pod shared with an
    # earlier test's web server could answer for this one's.
    pod = make_pod("served")
    start_webserver(cri, make_container, images, pod)
    pod_ip = cri.pod_status(pod.id).status.network.ip
    answer = http_get(http_url(pod_ip, WEB_PORT))
    assert (answer.status, answer.body) == (200, web_page(images)), answer
