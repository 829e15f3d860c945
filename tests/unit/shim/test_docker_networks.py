"""The Docker backend's networks, against a recording stand-in for the Docker SDK client."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest
import requests

from reference_shim.backends.docker.networks import DockerNetworks
from reference_shim.backends.labels import POD_ID_LABEL
from reference_shim.errors import ResourceExhausted

INSTANCE = "0123456789abcdef"


def _has(labels: dict[str, str], wanted: str) -> bool:
    """Docker's label filter: ``key`` is present, or ``key=value`` matches."""
    key, with_value, value = wanted.partition("=")
    return key in labels and (not with_value or labels[key] == value)


def _api_error(status: int, explanation: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError("refused", response, explanation=explanation)


class RecordingApi:
    """Keeps networks as Docker would list them; fails creation when told to."""

    def __init__(self) -> None:
        self.networks_by_name: dict[str, dict[str, Any]] = {}
        self.refuse_with = ""

    def networks(self, names: list[str] | None = None, filters: Any = None) -> list[Any]:
        found = list(self.networks_by_name.values())
        if names:  # Docker matches parts of names
            found = [n for n in found if any(name in n["Name"] for name in names)]
        if filters:
            found = [n for n in found if all(_has(n["Labels"], f) for f in filters["label"])]
        return found

    def create_network(
        self, name: str, driver: str, labels: dict[str, str], check_duplicate: bool
    ) -> None:
        if self.refuse_with:
            raise _api_error(400, self.refuse_with)
        if check_duplicate and name in self.networks_by_name:  # Docker compares whole names
            raise _api_error(409, f"network with name {name} already exists")
        self.networks_by_name[name] = {"Name": name, "Labels": dict(labels)}

    def remove_network(self, name: str) -> None:
        if name not in self.networks_by_name:
            raise docker.errors.NotFound("gone")
        del self.networks_by_name[name]


@pytest.fixture
def api() -> RecordingApi:
    return RecordingApi()


def test_a_pod_network_is_made_once_with_the_pod_id_and_listed_by_name(api: RecordingApi) -> None:
    networks = DockerNetworks(api, INSTANCE)
    name = networks.create_pod_network("ab" * 32)
    assert networks.create_pod_network("ab" * 32) == name
    assert api.networks_by_name[name]["Labels"][POD_ID_LABEL] == "ab" * 32
    networks.ensure_shared()
    assert networks.pod_networks() == {name: "ab" * 32}  # the shared network is not a pod's
    networks.remove_pod_network(name)
    networks.remove_pod_network(name)  # already gone
    assert networks.pod_networks() == {}


def test_a_name_that_only_contains_ours_is_not_ours(api: RecordingApi) -> None:
    networks = DockerNetworks(api, INSTANCE)
    api.networks_by_name[f"x-{networks.shared}"] = {"Name": f"x-{networks.shared}", "Labels": {}}
    networks.ensure_shared()
    assert networks.shared in api.networks_by_name


def test_docker_out_of_address_pools_is_resource_exhausted_saying_what_to_do(
    api: RecordingApi,
) -> None:
    api.refuse_with = (
        "could not find an available, non-overlapping IPv4 address pool among the defaults "
        "to assign to the network"
    )
    with pytest.raises(ResourceExhausted, match="default-address-pools"):
        DockerNetworks(api, INSTANCE).create_pod_network("cd" * 32)
