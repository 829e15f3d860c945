"""The CLI's JSON shapes (1.x, and the 0.x container shape) read into the backend's values."""

from __future__ import annotations

import json

from apple_double import BUSYBOX, CliDouble, image_document
from cri_specs import container_config, create, pod_config, run_pod

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.backends.apple.documents import parse_container, parse_images, parse_stats
from reference_shim.backends.base import VmState
from reference_shim.timestamps import parse_rfc3339_nano

# `container inspect` of a running container, 1.x, as Swift prints it (slashes escaped).
INSPECT_1X = r"""[
  {
    "configuration" : {
      "id" : "k8s-web-0",
      "image" : {"reference" : "docker.io\/library\/nginx:1.27"},
      "initProcess" : {"arguments" : ["nginx", "-g", "daemon off;"],
                       "executable" : "\/docker-entrypoint.sh", "terminal" : false,
                       "user" : {"id" : {"gid" : 0, "uid" : 0}}},
      "labels" : {"io.kubernetes.pod.name" : "web", "note" : "b64:YT1i"},
      "networks" : [{"network" : "default", "options" : {"hostname" : "k8s-web-0", "mtu" : 1280}}]
    },
    "id" : "k8s-web-0",
    "status" : {
      "networks" : [{"hostname" : "k8s-web-0", "ipv4Address" : "192.168.64.5\/24",
                     "ipv4Gateway" : "192.168.64.1", "mtu" : 1280, "network" : "default",
                     "variant" : "reserved"}],
      "startedDate" : "2026-08-08T10:00:02Z",
      "state" : "running"
    }
  }
]"""

# The same container as releases before 1.0.0 printed it.
LIST_0X = (
    '[{"status":"running","configuration":{"id":"k8s-web-0","labels":{}},'
    '"networks":[{"address":"192.168.64.7\\/24","gateway":"192.168.64.1"}],'
    '"startedDate":"2026-08-08T10:00:02Z"}]'
)


def test_a_1x_container_document() -> None:
    container = parse_container(json.loads(INSPECT_1X)[0])
    assert (container.id, container.state, container.ip) == ("k8s-web-0", "running", "192.168.64.5")
    assert container.started_at == parse_rfc3339_nano("2026-08-08T10:00:02Z")
    assert container.labels == {"io.kubernetes.pod.name": "web", "note": "a=b"}
    assert container.tty is False


def test_a_0x_container_document() -> None:
    container = parse_container(json.loads(LIST_0X)[0])
    assert (container.id, container.state, container.ip) == ("k8s-web-0", "running", "192.168.64.7")
    assert container.started_at == parse_rfc3339_nano("2026-08-08T10:00:02Z")


def test_a_stopped_container_that_never_ran_has_no_ip_and_no_start() -> None:
    document = {
        "id": "c1",
        "configuration": {"id": "c1"},
        "status": {"networks": [], "state": "stopped"},
    }
    container = parse_container(document)
    assert (container.state, container.ip, container.started_at) == ("stopped", "", 0)


def test_the_backend_reads_the_0x_shape_from_the_cli(
    backend: AppleBackend, double: CliDouble
) -> None:
    double.settings(shape="0")
    pod = run_pod(backend, pod_config(hostname="old"))
    vm_id = create(backend, pod, container_config(BUSYBOX))
    assert backend.inspect_vm(vm_id).state is VmState.CREATED
    started = backend.start_vm(vm_id)
    assert started.state is VmState.RUNNING
    assert started.ip.startswith("192.168.64.")
    assert backend.list_vms()[pod.vm_id].ip == started.ip
    assert "status" in json.loads(double.cli().call("list", "--all", "--format", "json").stdout)[0]


def test_images_sharing_an_id_are_one_image_with_every_name() -> None:
    one = image_document(
        "127.0.0.1:5000/x/twotags:one", 7, {"Entrypoint": ["/e"], "Cmd": ["c"], "User": "1234"}
    )
    two = image_document("127.0.0.1:5000/x/twotags:two", 7)
    other = image_document("docker.io/library/alpine:3.22", 8)
    images = parse_images([one, two, other], architecture="arm64")
    assert len(images) == 2
    twotags = images[0]
    assert twotags.id == f"sha256:{7:064x}"
    assert twotags.repo_tags == ("127.0.0.1:5000/x/twotags:one", "127.0.0.1:5000/x/twotags:two")
    assert twotags.repo_digests == (f"127.0.0.1:5000/x/twotags@sha256:{7:064x}",)
    assert (twotags.entrypoint, twotags.cmd, twotags.user) == (("/e",), ("c",), "1234")


def test_the_variant_of_the_host_architecture_is_chosen_and_attestations_skipped() -> None:
    document = image_document("docker.io/library/alpine:3.22", 8)
    assert parse_images([document], architecture="arm64")[0].size == 4_000_008
    assert parse_images([document], architecture="amd64")[0].size == 5_000_008
    document["variants"] = document["variants"][2:]  # only the attestation is left
    assert parse_images([document], architecture="arm64")[0].size == 0


def test_stats_counters() -> None:
    stats = parse_stats(
        {
            "id": "c",
            "cpuUsageUsec": 1234567,
            "memoryUsageBytes": 47431680,
            "memoryLimitBytes": 1 << 30,
            "networkRxBytes": 10,
            "networkTxBytes": 20,
            "numProcesses": 3,
        },
        timestamp=99,
    )
    assert stats.cpu_usage_ns == 1_234_567_000
    assert (stats.memory_usage, stats.memory_working_set, stats.memory_limit) == (
        47431680,
        47431680,
        1 << 30,
    )
    assert (stats.network_rx_bytes, stats.network_tx_bytes, stats.pids, stats.timestamp) == (
        10,
        20,
        3,
        99,
    )
    assert parse_stats({"id": "c"}).cpu_usage_ns == 0  # every counter is optional
