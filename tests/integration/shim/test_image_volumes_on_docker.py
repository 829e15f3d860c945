"""Image volumes on the real Docker Engine: the volume a container's image mount is filled into
lives exactly as long as the container, the copy leaves no helper behind, and a shim that
stopped between filling a volume and making its VM removes the volume when it starts again."""

from __future__ import annotations

import docker
from cri_api.v1 import api_pb2 as cri
from docker_shim import BUSYBOX, Launch, connect, instance_of, run_container, shell

from reference_shim.backends.docker.image_volumes import HELPER_LABEL, VM_LABEL
from reference_shim.backends.labels import owner_filter, owner_labels

WEBSERVER = "127.0.0.1:5000/cri-conformance/webserver:1.0"


def image_volumes(api: docker.APIClient, instance: str) -> list[str]:
    found = api.volumes(filters={"label": [owner_filter(instance), VM_LABEL]})
    return sorted(str(volume["Name"]) for volume in found.get("Volumes") or [])


def test_an_image_volume_lives_as_long_as_its_container(
    launch: Launch, pod_config: cri.PodSandboxConfig, docker_api: docker.APIClient
) -> None:
    launcher = launch()
    client = connect(launcher)
    image_ref = client.pull_image(WEBSERVER)
    config = shell("sleep 3600")
    config.mounts.add(
        container_path="/volume", image=cri.ImageSpec(image=image_ref), image_sub_path="www"
    )
    _, container_id = run_container(client, pod_config, config)
    result = client.exec_sync(container_id, ["cat", "/volume/index.html"], timeout=20)
    assert result.stdout == b"cri-conformance web server\n"
    instance = instance_of(launcher.state_dir)
    assert len(image_volumes(docker_api, instance)) == 1
    assert docker_api.containers(all=True, filters={"label": HELPER_LABEL}) == []
    client.remove_container(container_id)
    assert image_volumes(docker_api, instance) == []
    client.close()


def test_a_restarted_shim_removes_image_volumes_whose_vm_was_never_made(
    launch: Launch, docker_api: docker.APIClient
) -> None:
    first = launch()
    connect(first).pull_image(BUSYBOX)
    first.close()
    instance = instance_of(first.state_dir)
    labels = {**owner_labels(instance), VM_LABEL: "ctr-never-made"}
    docker_api.create_volume("ctr-never-made-image-0", labels=labels)
    launch()
    assert image_volumes(docker_api, instance) == []
