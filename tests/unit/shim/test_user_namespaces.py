"""User namespaces (userns_options): accepted, checked and handed to a backend that runs them
(Capability.USER_NAMESPACES), advertised only then; refused by one that does not."""

from __future__ import annotations

import re
from typing import TypeVar

import grpc
import pytest
from cri_api.v1 import api_pb2 as cri
from fake_backend import FakeBackend, FakeVmBackend
from shim_helpers import container_config, pod_config, refused, vm_of

from harness.client import CriClient
from reference_shim.backends.base import Capability, IdMapping
from reference_shim.cri import unhonoured, user_namespaces
from reference_shim.errors import InvalidArgument, Unimplemented

FIELD = "linux.security_context.namespace_options"
MAPPING = cri.IDMapping(container_id=0, host_id=65536 * 40, length=65536)
EXTENT = IdMapping(container_id=0, host_id=65536 * 40, length=65536)


def options(
    mode: cri.NamespaceMode.ValueType = cri.POD,
    uids: tuple[cri.IDMapping, ...] = (MAPPING,),
    gids: tuple[cri.IDMapping, ...] = (MAPPING,),
) -> cri.NamespaceOption:
    return cri.NamespaceOption(
        userns_options=cri.UserNamespace(mode=mode, uids=list(uids), gids=list(gids))
    )


Config = TypeVar("Config", cri.PodSandboxConfig, cri.ContainerConfig)


def in_userns(config: Config, asked: cri.NamespaceOption) -> Config:
    config.linux.security_context.namespace_options.CopyFrom(asked)
    return config


class WithoutUserNamespaces(FakeBackend):
    capabilities = FakeBackend.capabilities - {Capability.USER_NAMESPACES}


# -- the checks, as containerd 2.1 makes them -------------------------------------------------


def test_pod_mode_gives_the_maps_and_node_or_nothing_none() -> None:
    assert user_namespaces.requested(options(), FIELD) == ((EXTENT,), (EXTENT,))
    assert user_namespaces.requested(options(cri.NODE, (), ()), FIELD) == user_namespaces.NONE
    assert user_namespaces.requested(cri.NamespaceOption(), FIELD) == user_namespaces.NONE


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        (options(cri.NODE), "mode NODE (the host's user namespace) takes no mappings"),
        (options(gids=()), "mode POD needs uid and gid mappings"),
        (options(uids=(MAPPING, MAPPING)), "uids: only one mapping line is supported, got 2"),
        (options(gids=(cri.IDMapping(host_id=1, length=0),)), "gids: invalid mapping length 0"),
        (
            options(uids=(cri.IDMapping(host_id=2**32 - 65536, length=65536),)),
            "uids: host_id 4294901760 plus length 65536 passes the last id 4294967294",
        ),
        (options(cri.CONTAINER), "mode CONTAINER: a user namespace is only NODE or POD"),
    ],
)
def test_bad_maps_are_invalid_arguments_naming_the_field(
    asked: cri.NamespaceOption, says: str
) -> None:
    with pytest.raises(InvalidArgument, match=f"^{re.escape(FIELD)}\\.userns_options") as raised:
        user_namespaces.requested(asked, FIELD)
    assert says in str(raised.value)


def test_a_container_shares_its_pods_user_namespace() -> None:
    pod = in_userns(pod_config(), options())
    assert user_namespaces.of_container(pod, container_config()) == ((EXTENT,), (EXTENT,))
    assert user_namespaces.of_container(pod, in_userns(container_config(), options())) == (
        (EXTENT,),
        (EXTENT,),
    )
    other = options(uids=(cri.IDMapping(host_id=65536 * 41, length=65536),))
    for asked in (other, options(cri.NODE, (), ())):
        with pytest.raises(InvalidArgument, match="other than its pod's"):
            user_namespaces.of_container(pod, in_userns(container_config(), asked))


def test_a_backend_without_them_refuses_them_and_one_with_them_checks_them() -> None:
    can = frozenset({Capability.USER_NAMESPACES})
    pod = in_userns(pod_config(), options())
    with pytest.raises(Unimplemented, match=r"userns_options\.mode is not supported"):
        unhonoured.pod_config(pod)
    unhonoured.pod_config(pod, can)
    with pytest.raises(InvalidArgument):
        unhonoured.pod_config(in_userns(pod_config(), options(gids=())), can)
    with pytest.raises(Unimplemented, match=r"userns_options\.mode is not supported"):
        unhonoured.container_config(in_userns(container_config(), options()))
    unhonoured.container_config(in_userns(container_config(), options()), can)


# -- through the shim ---------------------------------------------------------------------------


def advertised(client: CriClient) -> bool:
    (handler,) = client.status().runtime_handlers
    return handler.features.user_namespaces


def test_a_backend_with_them_is_advertised_and_gets_the_maps(
    backend: FakeVmBackend, client: CriClient
) -> None:
    assert advertised(client)
    pod = in_userns(pod_config(), options())
    pod_id = client.run_pod(pod)
    container_id = client.create_container(pod_id, in_userns(container_config(), options()), pod)
    security = vm_of(backend, container_id).spec.security
    assert (security.uid_mappings, security.gid_mappings) == ((EXTENT,), (EXTENT,))
    with refused(grpc.StatusCode.INVALID_ARGUMENT):
        client.run_pod(in_userns(pod_config("bad"), options(uids=())))


@pytest.mark.parametrize("backend", [WithoutUserNamespaces()], ids=["without"])
def test_a_backend_without_them_is_not_advertised_and_refuses_the_pod(client: CriClient) -> None:
    assert not advertised(client)
    with refused(grpc.StatusCode.UNIMPLEMENTED):
        client.run_pod(in_userns(pod_config(), options()))
