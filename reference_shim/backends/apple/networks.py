"""Networks of one pod each, on Apple's CLI (macOS 26; macOS 15 has only the builtin one).

Containers on one Apple network reach each other by IP, networks are isolated from each other,
and the host reaches every container IP: what ``separate-vms`` needs to keep a pod's VMs apart
from other pods'. Each network carries the shim's labels and the pod id it was made for.
"""

from __future__ import annotations

from reference_shim.backends.apple.cli import AppleCli
from reference_shim.backends.apple.errors import USAGE_EXIT, cli_error, is_not_found
from reference_shim.backends.labels import INSTANCE_LABEL, POD_ID_LABEL, owner_labels
from reference_shim.errors import Unimplemented

NO_NETWORKS = (
    "networks of one pod each need macOS 26: on macOS 15 Apple's CLI has only its builtin "
    "network, on which containers cannot reach each other"
)


class AppleNetworks:
    def __init__(self, cli: AppleCli, instance: str) -> None:
        self._cli = cli
        self._instance = instance

    def name_for(self, pod_id: str) -> str:
        """Lowercase letters, digits and '-': Apple's rule for network names."""
        return f"cri-{self._instance[:8]}-{pod_id[:12]}".lower()

    def create(self, pod_id: str) -> str:
        name = self.name_for(pod_id)
        if name in self.all():
            return name
        labels = [f"{key}={value}" for key, value in owner_labels(self._instance).items()]
        args = ["network", "create", *[x for label in labels for x in ("--label", label)]]
        result = self._cli.call(*args, "--label", f"{POD_ID_LABEL}={pod_id}", name)
        if result.code == USAGE_EXIT:
            raise Unimplemented(NO_NETWORKS)
        if result.code != 0:
            raise cli_error(f"create network {name}", result)
        return name

    def remove(self, name: str) -> None:
        """Once no container is on it; a network already gone is removed."""
        result = self._cli.call("network", "delete", name)
        if result.code not in {0, USAGE_EXIT} and not is_not_found(result):
            raise cli_error(f"remove network {name}", result)

    def all(self) -> dict[str, str]:
        """This shim instance's pod networks: name -> pod id ({} on macOS 15)."""
        result = self._cli.call("network", "list", "--format", "json")
        if result.code == USAGE_EXIT:
            return {}
        if result.code != 0:
            raise cli_error("list networks", result)
        found = {}
        for network in self._cli.parse_json("list networks", result):
            labels = (network.get("configuration") or {}).get("labels") or {}
            if labels.get(INSTANCE_LABEL) == self._instance:
                found[str(network.get("id"))] = str(labels.get(POD_ID_LABEL, ""))
        return found
