"""The spec strategies generate what the Kubernetes and CRI rules allow, by construction.

The rules are restated here as regular expressions from the Kubernetes validation code's
documentation, independent of how the strategies build their values.
"""

from __future__ import annotations

import ipaddress
import re

from cri_api.v1 import api_pb2 as cri
from hypothesis import given, settings

from harness.ownership import RUN_LABEL, TEST_ANNOTATION
from harness.properties import invalid_specs, specs
from harness.properties.security_specs import SOME_CAPABILITIES, security_contexts
from harness.properties.spec_files import Spec

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
OWNER = specs.Owner("20260101-000000-abcdef", "tests::unit", "/logs", "/volumes")
IMAGE = "127.0.0.1:5000/cri-conformance/busybox:1.0"
MANY = settings(max_examples=150)
# Whole configs take tens of milliseconds each to draw.
WHOLE = settings(max_examples=30)


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and DNS1123_LABEL.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and all(is_dns1123_label(part) for part in name.split("."))


def is_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not is_dns1123_subdomain(prefix):
        return False
    return len(name) <= 63 and QUALIFIED_NAME.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and QUALIFIED_NAME.fullmatch(value) is not None)


@MANY
@given(specs.dns1123_labels())
def test_labels_are_dns1123(name: str) -> None:
    assert is_dns1123_label(name)


@MANY
@given(specs.dns1123_subdomains())
def test_subdomains_are_dns1123(name: str) -> None:
    assert is_dns1123_subdomain(name)


@MANY
@given(specs.label_maps())
def test_label_maps_follow_the_kubernetes_rules(labels: dict[str, str]) -> None:
    for key, value in labels.items():
        assert is_label_key(key), key
        assert is_label_value(value), value
        assert not key.startswith(specs.RESERVED_PREFIX + "/"), "generated a harness key"


@MANY
@given(specs.annotation_maps())
def test_annotation_keys_follow_the_label_key_rules(annotations: dict[str, str]) -> None:
    for key, value in annotations.items():
        assert is_label_key(key), key
        assert "\0" not in value


@MANY
@given(specs.envs())
def test_env_names_are_kubernetes_names_and_keep_the_images_path(env: dict[str, str]) -> None:
    assert "PATH" not in env
    for name, value in env.items():
        assert ENV_NAME.fullmatch(name), name
        assert "\0" not in value


@WHOLE
@given(specs.pod_configs(OWNER))
def test_pod_configs_are_valid_and_owned_by_the_run(config: cri.PodSandboxConfig) -> None:
    metadata = config.metadata
    assert is_dns1123_label(metadata.name)
    assert is_dns1123_label(metadata.namespace)
    assert metadata.uid
    assert metadata.attempt >= 0
    assert is_dns1123_label(config.hostname)
    assert config.labels[RUN_LABEL] == OWNER.run_id
    assert config.labels[specs.EXAMPLE_LABEL] == metadata.name
    assert config.annotations[TEST_ANNOTATION] == OWNER.test
    assert config.log_directory == f"{OWNER.log_root}/{metadata.name}"
    for key, value in config.labels.items():
        assert is_label_key(key), key
        assert is_label_value(value), value
    for server in config.dns_config.servers:
        address = ipaddress.ip_address(server)
        assert address.is_loopback or address in ipaddress.ip_network("192.0.2.0/24")
    assert all(is_dns1123_subdomain(domain) for domain in config.dns_config.searches)
    assert all(mapping.host_port == 0 for mapping in config.port_mappings)
    assert config.linux.security_context.namespace_options.network == cri.POD


@WHOLE
@given(specs.container_configs(OWNER, IMAGE, mounts=True, resources=True))
def test_container_configs_are_valid_and_keep_the_container_alive(
    config: cri.ContainerConfig,
) -> None:
    assert is_dns1123_label(config.metadata.name)
    assert config.image.image == IMAGE
    assert config.labels[RUN_LABEL] == OWNER.run_id
    argv = specs.expected_argv(config)
    assert argv[:3] == ["sh", "-c", specs.keepalive(config.metadata.name)]
    assert config.log_path == f"{config.metadata.name}.log"
    assert config.linux.security_context.namespace_options.pid == cri.CONTAINER
    paths = [mount.container_path for mount in config.mounts]
    assert len(paths) == len(set(paths))
    assert all(mount.host_path.startswith(OWNER.volume_root + "/") for mount in config.mounts)
    resources = config.linux.resources
    memory = resources.memory_limit_in_bytes
    assert memory == 0 or (memory % specs.PAGE == 0 and memory >= 16 * specs.MIB)
    assert resources.cpu_shares == 0 or 2 <= resources.cpu_shares <= 262144
    if resources.cpu_period:
        assert resources.cpu_quota >= 1000
        assert 1000 <= resources.cpu_period <= 1_000_000
    else:
        assert resources.cpu_quota == 0


@WHOLE
@given(specs.pod_specs(OWNER, IMAGE, "multi-shapes", containers=(1, 4), pid_mode=specs.pid_modes()))
def test_pod_specs_have_distinct_container_names(spec: Spec) -> None:
    names = [config.metadata.name for config in spec.containers]
    assert 1 <= len(names) <= 4
    assert len(set(names)) == len(names)
    assert spec.property == "multi-shapes"
    assert spec.volume_root == OWNER.volume_root


@WHOLE
@given(invalid_specs.image_references("invalid.pull-references")(OWNER, IMAGE))
def test_bad_image_references_only_ever_name_the_local_registry(spec: Spec) -> None:
    reference = spec.containers[0].image.image
    assert reference == spec.params["image"]
    assert reference.startswith(invalid_specs.LOCAL_REPOSITORY + "/")


@MANY
@given(invalid_specs.unknown_ids())
def test_unknown_ids_cannot_prefix_match_a_real_id(object_id: str) -> None:
    assert len(object_id) == 64 or set(object_id) - set(invalid_specs.HEX)


@WHOLE
@given(invalid_specs.missing_fields(OWNER, IMAGE))
def test_missing_field_specs_lack_exactly_what_they_say(spec: Spec) -> None:
    case = spec.params["case"]
    assert spec.pod.HasField("metadata") == (case != "pod-metadata")
    container = spec.containers[0]
    assert container.HasField("metadata") == (case != "container-metadata")
    assert bool(container.image.image) == (case != "container-image")


@WHOLE
@given(security_contexts(cri.NamespaceOption(pid=cri.POD)))
def test_security_contexts_are_never_privileged_and_set_a_group_only_with_a_user(
    context: cri.LinuxContainerSecurityContext,
) -> None:
    assert not context.privileged
    assert context.namespace_options.pid == cri.POD
    assert context.HasField("run_as_user") or not context.HasField("run_as_group")
    capabilities = context.capabilities
    for name in [*capabilities.add_capabilities, *capabilities.drop_capabilities]:
        assert name in SOME_CAPABILITIES
    assert context.seccomp.profile_type in (
        cri.SecurityProfile.RuntimeDefault,
        cri.SecurityProfile.Unconfined,
    )


@WHOLE
@given(specs.container_configs(OWNER, IMAGE, security=True, output="echo out; "))
def test_a_fixed_output_runs_before_the_keepalive_loop(config: cri.ContainerConfig) -> None:
    script = specs.expected_argv(config)[2]
    assert script == specs.keepalive(config.metadata.name, "echo out; ")
    assert script.startswith("echo out; while :; do sleep 3600; done")
