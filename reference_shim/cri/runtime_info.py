"""Version, Status and the runtime configuration the shim reports to kubelet."""

from __future__ import annotations

from cri_api.v1 import api_pb2 as cri

from reference_shim import __version__
from reference_shim.backends.base import Capability, user_namespaces
from reference_shim.cri.context import ShimContext
from reference_shim.cri.convert.messages import verbose_info
from reference_shim.errors import Unimplemented

RUNTIME_NAME = "cri-conformance-shim"
API_VERSION = "v1"


def version() -> cri.VersionResponse:
    return cri.VersionResponse(
        version="0.1.0",  # the kubelet runtime API version, as containerd answers
        runtime_name=RUNTIME_NAME,
        runtime_version=__version__,
        runtime_api_version=API_VERSION,
    )


def _condition(kind: str, ready: tuple[bool, str], reason: str) -> cri.RuntimeCondition:
    ok, message = ready
    return cri.RuntimeCondition(type=kind, status=ok, reason="" if ok else reason, message=message)


def status(ctx: ShimContext, verbose: bool) -> cri.StatusResponse:
    response = cri.StatusResponse(
        status=cri.RuntimeStatus(
            conditions=[
                _condition("RuntimeReady", ctx.backend.ready(), "BackendNotReady"),
                _condition("NetworkReady", ctx.backend.network_status(), "NetworkNotReady"),
            ]
        ),
        runtime_handlers=[
            cri.RuntimeHandler(
                name="",
                features=cri.RuntimeHandlerFeatures(
                    recursive_read_only_mounts=(
                        Capability.RECURSIVE_READ_ONLY_MOUNTS in ctx.backend.capabilities
                    ),
                    user_namespaces=user_namespaces(ctx.backend),
                ),
            )
        ],
        features=cri.RuntimeFeatures(
            supplemental_groups_policy=Capability.STRICT_GROUPS in ctx.backend.capabilities
        ),
    )
    if verbose:
        response.info.update(
            verbose_info(
                {
                    "backend": ctx.backend.name,
                    "strategy": ctx.strategy.name,
                    "network": ctx.backend.network(),
                    "pod_image": ctx.pod_image,
                    "state_dir": str(ctx.state_dir),
                }
            )
        )
    return response


def runtime_config(ctx: ShimContext) -> cri.RuntimeConfigResponse:
    """The backend puts VMs under the pod's cgroup parent as its host's cgroup manager names
    them (Docker: its own cgroup driver), so the kubelet must name parents that way."""
    driver = cri.SYSTEMD if ctx.backend.cgroup_driver() == "systemd" else cri.CGROUPFS
    return cri.RuntimeConfigResponse(linux=cri.LinuxRuntimeConfiguration(cgroup_driver=driver))


def update_runtime_config(ctx: ShimContext, request: cri.UpdateRuntimeConfigRequest) -> None:
    cidr = request.runtime_config.network_config.pod_cidr
    if cidr:
        raise Unimplemented(
            f"pod CIDR {cidr!r} cannot be applied: VMs take their addresses from the backend "
            f"network {ctx.backend.network()!r}, which the shim manages itself"
        )
