"""The shim's Docker networks: one that pod VMs share, and one per pod for ``separate-vms``.

Every network carries the shim's labels, and a pod network also the id of its pod, so the
backend lists and removes only its own instance's networks. Docker picks each network's subnet
from its default address pools (it knows the host's routes and the other networks); a daemon
with the stock pools has room for about thirty networks, so a run of many pods at once needs
``default-address-pools`` with smaller subnets in daemon.json.
"""

from __future__ import annotations

import logging
from typing import Any

import docker.errors

from reference_shim.backends.docker.errors import docker_errors, explain
from reference_shim.backends.labels import INSTANCE_LABEL, POD_ID_LABEL, owner_filter, owner_labels
from reference_shim.errors import ResourceExhausted

log = logging.getLogger(__name__)

_CONFLICT = 409  # Docker's answer to a network name already taken


class DockerNetworks:
    def __init__(self, api: Any, instance: str) -> None:
        self._api = api  # the SDK is untyped
        self._instance = instance
        self._labels = owner_labels(instance)
        self.shared = f"cri-shim-{instance[:16]}"

    def _create(self, name: str, labels: dict[str, str]) -> None:
        """Idempotent in one call: Docker refuses a second network of the name with 409."""
        with docker_errors(f"create network {name}"):
            try:
                self._api.create_network(name, driver="bridge", labels=labels, check_duplicate=True)
            except docker.errors.APIError as error:
                if error.status_code == _CONFLICT:
                    return
                if "address pool" not in explain(error):
                    raise
                raise ResourceExhausted(
                    f"create network {name}: Docker has no free address pool left "
                    f"({explain(error)}); remove pods, or give dockerd more, smaller pools with "
                    "default-address-pools in daemon.json"
                ) from error

    def _remove(self, name: str) -> None:
        try:
            self._api.remove_network(name)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as error:
            log.warning("keeping network %s: %s", name, explain(error))

    # -- the shared network -------------------------------------------------------------

    def ensure_shared(self) -> None:
        self._create(self.shared, self._labels)

    def shared_status(self) -> tuple[bool, str]:
        try:
            found = self._api.inspect_network(self.shared)
        except docker.errors.NotFound:
            return False, f"Docker network {self.shared} does not exist"
        except Exception as error:  # any failure means the network is not known to be there
            return False, f"Docker network {self.shared} cannot be inspected: {error}"
        if (found.get("Labels") or {}).get(INSTANCE_LABEL) != self._instance:
            return False, f"Docker network {self.shared} belongs to another shim instance"
        return True, ""

    def remove_all(self) -> None:
        """The shared network and every pod network of this instance (no VM may be left)."""
        for name in self.pod_networks():
            self._remove(name)
        self._remove(self.shared)

    # -- pod networks -------------------------------------------------------------------

    def create_pod_network(self, pod_id: str) -> str:
        name = f"cri-pod-{self._instance[:8]}-{pod_id[:12]}"
        self._create(name, {**self._labels, POD_ID_LABEL: pod_id})
        return name

    def remove_pod_network(self, name: str) -> None:
        with docker_errors(f"remove network {name}"):
            self._remove(name)

    def pod_networks(self) -> dict[str, str]:
        with docker_errors("list pod networks"):
            found = self._api.networks(
                filters={"label": [owner_filter(self._instance), POD_ID_LABEL]}
            )
        return {str(n["Name"]): str((n.get("Labels") or {})[POD_ID_LABEL]) for n in found}
