"""Where a workload's VM stands on Apple's CLI, which has no pods and no shared namespaces.

Inside a modelled pod: the workload gets a VM of its own that carries the pod's identity
(hostname, port mappings, network), so it has the pod's IP. Only one live workload can carry
it: containers that would share the pod's network, IPC and UTS namespaces are refused (the
backend lacks ``Capability.SHARED_POD_VM``). On a network of its own: a VM with the pod's
hostname on that network.
"""

from __future__ import annotations

from collections.abc import Callable

from reference_shim.backends.apple.documents import AppleContainer
from reference_shim.backends.apple.pods import CARRIER_LABEL, ModelledPods
from reference_shim.backends.apple.translate import DEFAULT_NETWORK, Identity
from reference_shim.backends.base import VmSpec, VmState, VmStatus
from reference_shim.errors import NotFound, Unimplemented

FALLBACK_HOSTNAME = "container"


def identity(
    spec: VmSpec,
    pods: ModelledPods,
    containers: Callable[[], list[AppleContainer]],
    status: Callable[[AppleContainer], VmStatus],
) -> tuple[Identity, str]:
    """The identity the workload VM carries, and the handle of the pod it carries ("" if none)."""
    placement = spec.placement
    if placement.pid_of:
        raise Unimplemented(
            "sharing another container's PID namespace is impossible on Apple's CLI: every "
            "container is a VM with its own kernel"
        )
    if not placement.inside:
        pod = pods.of_pod(spec.pod_id)
        hostname = spec.hostname or (pod.hostname if pod else FALLBACK_HOSTNAME)
        return Identity(hostname, placement.network or DEFAULT_NETWORK, spec.ports), ""
    pod = pods.get(placement.inside)
    if pod is None:
        raise NotFound(
            f"no pod VM {placement.inside}: on Apple's CLI a workload runs only inside a pod VM "
            "that exists (one VM per container, no shared namespaces)"
        )
    for sibling in containers():
        carries = sibling.labels.get(CARRIER_LABEL) == pod.handle
        if carries and status(sibling).state in {VmState.CREATED, VmState.RUNNING}:
            raise Unimplemented(
                f"containers cannot share a pod's network, IPC and UTS namespaces on Apple's "
                f"CLI: {sibling.id} already carries this pod's identity, and every container is "
                "a VM of its own (no pods)"
            )
    return pod.identity, pod.handle
