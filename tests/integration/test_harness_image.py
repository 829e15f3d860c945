"""The harness image (scripts/build-harness-image), as a node runs it.

Built twice from the cache (`scripts/run tests` fetches the Debian packages and the wheels
before pytest), to the same manifest digest; loaded into the test Docker with skopeo; run there
against containerd 1.6's socket with what the Sonobuoy plugin gives it: the host's PID, network
and IPC namespaces, the node's cgroup hierarchy, a scratch folder at the same path with
bidirectional mount propagation, and a results folder for Sonobuoy's done file.

Docker here cannot run --privileged (this machine withholds CAP_SYS_RESOURCE) nor grant the
capabilities it does not know (BPF, PERFMON, CHECKPOINT_RESTORE): the container gets every
other capability, and the features that compare a privileged container's capabilities with
the host's are left out of the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
import yaml
from docker.models.containers import Container
from installed_wheel import REPO, run

from harness import host

SCRIPT = REPO / "scripts" / "build-harness-image"
PLUGIN = REPO / "ci" / "sonobuoy" / "cri-conformance.yaml"
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///var/tmp/cri-conformance/docker/docker.sock")
# The host namespaces, mount propagation into the scratch folder and cgroup parents: what
# the image needs the host for; plus the runtime's own information.
FEATURES = "runtime.*,security.namespaces.*,container.mount.propagation-*,pod.cgroup-parent"
RESULTS = "/tmp/sonobuoy/results"


@dataclass(frozen=True)
class Built:
    layout: Path
    tag: str
    digest: str


def build(output: Path) -> Built:
    """Build into ``output``: the script prints LAYOUT:TAG, then the manifest digest."""
    printed = run([str(SCRIPT), "build", str(output)], REPO, PYTHON=sys.executable)
    found = re.search(rf"^{re.escape(str(output))}:(\S+)\n(sha256:[0-9a-f]{{64}})$", printed, re.M)
    assert found, printed
    return Built(output, found[1], found[2])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("harness-image")
    first, second = build(root / "first"), build(root / "second")
    assert first.digest == second.digest, "two builds of the same commit and cache differ"
    assert first.digest.startswith("sha256:")
    return first


@pytest.fixture(scope="module")
def loaded(image: Built) -> Iterator[str]:
    """The image in the test Docker, under a tag of its digest; removed afterwards."""
    name = f"cri-conformance-harness:test-{image.digest.removeprefix('sha256:')[:12]}"
    run(
        ["skopeo", "copy", "--quiet", "--dest-daemon-host", DOCKER_HOST,
         f"oci:{image.layout}:{image.tag}", f"docker-daemon:{name}"],
        REPO,
    )  # fmt: skip
    client = docker.DockerClient(base_url=DOCKER_HOST)
    yield name
    client.images.remove(name, force=True)
    client.close()


def test_the_image_is_what_the_sonobuoy_plugin_runs(image: Built, loaded: str) -> None:
    config = docker.DockerClient(base_url=DOCKER_HOST).images.get(loaded).attrs["Config"]
    plugin = yaml.safe_load(PLUGIN.read_text())
    assert config["Entrypoint"] == plugin["spec"]["command"]
    stat = subprocess.run(
        ["umoci", "stat", "--json", "--image", f"{image.layout}:{image.tag}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    history = [entry["created_by"] for entry in json.loads(stat)["history"]]
    assert history[0].startswith("Debian bookworm: ")
    assert history[1] == f"cri-conformance {image.tag} and constraints.txt"
    packages = layer_file(image, "usr/share/cri-conformance/debian-packages").splitlines()
    assert any(line.startswith("python3.11_") for line in packages), packages


def layer_file(image: Built, path: str) -> str:
    """A file from the image's layers (the blobs that are tar archives)."""
    for blob in sorted((image.layout / "blobs" / "sha256").iterdir()):
        try:
            with tarfile.open(blob) as layer:
                member = layer.extractfile(path)
                if member is not None:
                    return member.read().decode()
        except (tarfile.ReadError, KeyError):
            continue
    raise AssertionError(f"no layer holds {path}")


def logs_when_done(container: Container, done: Path, timeout: float = 600) -> str:
    """The container's output once it wrote Sonobuoy's done file (then it waits, as a
    DaemonSet's pod must); fails with the output when it exits or times out first."""
    deadline = time.monotonic() + timeout
    while not done.exists():
        container.reload()
        if container.status == "exited" or time.monotonic() > deadline:
            output = container.logs().decode(errors="replace")
            raise AssertionError(f"no done file, container {container.status}:\n{output}")
        time.sleep(1)
    time.sleep(1)  # the entry point logs its last line right after the done file
    return str(container.logs().decode(errors="replace"))


def test_the_image_runs_the_suite_against_containerd(
    loaded: str, containerd_endpoint: str, tmp_path: Path
) -> None:
    socket = containerd_endpoint.removeprefix("unix://")
    results = tmp_path / "results"
    results.mkdir()
    client = docker.DockerClient(base_url=DOCKER_HOST)
    with host.shared_mount(tmp_path / "scratch") as scratch:
        container = client.containers.run(
            loaded,
            ["--cri-feature", FEATURES],
            detach=True,
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            pid_mode="host",
            network_mode="host",
            ipc_mode="host",
            volumes={
                socket: {"bind": socket, "mode": "rw"},
                str(scratch): {"bind": str(scratch), "mode": "rw,rshared"},
                "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                str(results): {"bind": RESULTS, "mode": "rw"},
            },
            environment={
                "CRI_ENDPOINT": containerd_endpoint,
                "CRI_PROFILE": "containerd-1.6",
                "CRI_SCRATCH_DIR": str(scratch),
                "SONOBUOY_RESULTS_DIR": RESULTS,
                "NODE_NAME": "node-1",
            },
        )
        try:
            logs = logs_when_done(container, results / "done")
        finally:
            container.remove(force=True)
        assert "the suite exited with status 0;" in logs, logs
        assert "waiting to be removed" in logs  # a DaemonSet's pod must not exit
        assert "tested containerd 1.6" in logs
        matrix = json.loads((scratch / "reports" / "matrix.json").read_text())
        assert not list(scratch.glob("run.*")), "the entry point left its pytest folder"
    (column,) = matrix["runtimes"]
    assert (column["name"], column["runtime_name"], column["profile"]) == (
        "node-1",
        "containerd",
        "containerd-1.6",
    )
    cells = {row["id"]: row["cells"]["node-1"]["state"] for row in matrix["features"]}
    for feature in ("security.namespaces.host-network", "security.namespaces.host-pid",
                    "security.namespaces.host-ipc", "container.mount.propagation-bidirectional",
                    "pod.cgroup-parent"):  # fmt: skip
        assert cells[feature] == "pass", (feature, cells[feature])
    done = (results / "done").read_text()
    assert done == f"{RESULTS}/cri-conformance.tar.gz"
    with tarfile.open(results / "cri-conformance.tar.gz") as packed:
        names = set(packed.getnames())
    assert {"./matrix.json", "./node-1/junit.xml"} <= names
