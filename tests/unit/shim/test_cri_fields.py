"""Every field of PodSandboxConfig and ContainerConfig is classified in docs/shim-cri-fields.md,
every field classified as refused is refused with UNIMPLEMENTED naming it, and every field left to
the backends is one they know (test_backend_refusals.py checks what each does with it).

The fields come from the API's protobuf descriptors, so a field the API gains, or one the shim
forgets, fails here until it has a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as cri
from google.protobuf.descriptor import Descriptor

from reference_shim.backends.refusals import Asked
from reference_shim.cri import unhonoured
from reference_shim.errors import Unimplemented

DOC = Path(__file__).parents[3] / "docs" / "shim-cri-fields.md"
MESSAGES: dict[str, type[cri.PodSandboxConfig] | type[cri.ContainerConfig]] = {
    "PodSandboxConfig": cri.PodSandboxConfig,
    "ContainerConfig": cri.ContainerConfig,
}
TREATMENTS = {"honoured", "refused", "partly refused", "per backend", "not applicable"}
WHOLE_MESSAGE_TREATMENTS = {"refused", "per backend", "not applicable"}
LEAF_MESSAGES = {"runtime.v1.Int64Value"}  # a wrapper: the field is its value
ROW = re.compile(r"^\| `([^`]+)` \| ([a-z ]+) \| (.*) \|$")
SECURITY = "linux.security_context"
NAMESPACES = f"{SECURITY}.namespace_options"


def documented() -> dict[str, dict[str, str]]:
    """message -> field path -> treatment, from the tables under each ``## `Message` `` title."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOC.read_text().splitlines():
        title = re.fullmatch(r"## `(\w+)`", line)
        if title:
            current = tables.setdefault(title.group(1), {})
        row = ROW.match(line)
        if current is not None and row and row.group(1) != "field":
            assert row.group(1) not in current, f"{row.group(1)} has two rows"
            current[row.group(1)] = row.group(2)
    return tables


def leaf_fields(descriptor: Descriptor, prefix: str = "") -> Iterator[str]:
    for field in descriptor.fields:
        path = prefix + field.name
        message = field.message_type
        if message is None or message.GetOptions().map_entry or message.full_name in LEAF_MESSAGES:
            yield path
        else:
            yield from leaf_fields(message, path + ".")


def row_for(path: str, rows: dict[str, str]) -> str | None:
    """The row covering ``path``: its own, or one of an enclosing message."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in rows:
            return candidate
    return None


@pytest.mark.parametrize("name", MESSAGES)
def test_every_field_of_the_api_has_exactly_one_row(name: str) -> None:
    rows = documented()[name]
    assert set(rows.values()) <= TREATMENTS
    fields = list(leaf_fields(MESSAGES[name].DESCRIPTOR))
    missing = [path for path in fields if row_for(path, rows) is None]
    assert not missing, f"{name} fields without a row in {DOC.name}: {missing}"
    used = {row_for(path, rows) for path in fields}
    assert set(rows) <= used, f"rows naming no field of {name}: {set(rows) - used}"
    for row, treatment in rows.items():
        if row not in fields:
            assert treatment in WHOLE_MESSAGE_TREATMENTS, f"{row}: {treatment} for a message"


# -- what each refused row is refused for --------------------------------------------

Config = cri.PodSandboxConfig | cri.ContainerConfig
Change = Callable[[Config], object]  # what it returns is not used


def container(config: Config) -> cri.ContainerConfig:
    """The config a container-only change gets: those are listed under ContainerConfig only."""
    assert isinstance(config, cri.ContainerConfig)
    return config


def selinux(config: Config) -> None:
    config.linux.security_context.selinux_options.type = "container_t"


def namespace(name: str, mode: int) -> Change:
    def change(config: Config) -> None:
        setattr(config.linux.security_context.namespace_options, name, mode)

    return change


def userns(mode: cri.NamespaceMode.ValueType, mapping: str = "") -> Change:
    def change(config: Config) -> None:
        options = config.linux.security_context.namespace_options.userns_options
        options.mode = mode
        if mapping:
            getattr(options, mapping).add(host_id=100000, container_id=0, length=65536)

    return change


def strict_groups(config: Config) -> None:
    config.linux.security_context.supplemental_groups_policy = cri.Strict


def mount(**fields: object) -> Change:
    def change(config: Config) -> None:
        container(config).mounts.add(container_path="/m", host_path="/tmp", **fields)

    return change


SHARED: dict[str, list[Change]] = {
    f"{NAMESPACES}.network": [
        namespace("network", cri.NODE),
        namespace("network", cri.CONTAINER),
        namespace("network", cri.TARGET),
    ],
    f"{NAMESPACES}.ipc": [
        namespace("ipc", cri.NODE),
        namespace("ipc", cri.CONTAINER),
        namespace("ipc", cri.TARGET),
    ],
    f"{NAMESPACES}.userns_options.mode": [userns(cri.POD), userns(cri.CONTAINER)],
    f"{NAMESPACES}.userns_options.uids": [userns(cri.NODE, "uids")],
    f"{NAMESPACES}.userns_options.gids": [userns(cri.NODE, "gids")],
    f"{SECURITY}.selinux_options": [selinux],
    f"{SECURITY}.supplemental_groups_policy": [strict_groups],
}
REFUSED: dict[str, dict[str, list[Change]]] = {
    "PodSandboxConfig": {
        **SHARED,
        f"{NAMESPACES}.pid": [namespace("pid", cri.NODE), namespace("pid", cri.TARGET)],
    },
    "ContainerConfig": {
        **SHARED,
        f"{NAMESPACES}.pid": [namespace("pid", cri.NODE)],
        "mounts.uidMappings": [mount(uidMappings=[cri.IDMapping(length=1)])],
        "mounts.gidMappings": [mount(gidMappings=[cri.IDMapping(length=1)])],
        "CDI_devices": [lambda c: container(c).CDI_devices.add(name="vendor.com/gpu=0")],
    },
}


def check(config: Config) -> None:
    """The shim's check of the fields it does not honour, for the config's message."""
    if isinstance(config, cri.PodSandboxConfig):
        unhonoured.pod_config(config)
    else:
        unhonoured.container_config(config)


def minimal(name: str) -> Config:
    if name == "PodSandboxConfig":
        return cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name="p"))
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"), image=cri.ImageSpec(image="busybox")
    )


@pytest.mark.parametrize("name", MESSAGES)
def test_each_refused_row_has_its_cases_and_no_other(name: str) -> None:
    refused = {row for row, treatment in documented()[name].items() if "refused" in treatment}
    assert refused == set(REFUSED[name])


def test_the_rows_left_to_the_backends_are_the_fields_they_decide() -> None:
    per_backend = {row for row, treatment in documented()["ContainerConfig"].items()
                   if treatment == "per backend"}  # fmt: skip
    assert per_backend == {field.value for field in Asked}
    assert "per backend" not in documented()["PodSandboxConfig"].values()


REFUSALS = [
    pytest.param(name, row, change, id=f"{name}.{row}[{index}]")
    for name, rows in REFUSED.items()
    for row, changes in rows.items()
    for index, change in enumerate(changes)
]


@pytest.mark.parametrize(("name", "row", "change"), REFUSALS)
def test_a_refused_value_is_unimplemented_naming_its_field(
    name: str, row: str, change: Change
) -> None:
    config = minimal(name)
    check(config)  # the defaults pass
    change(config)
    with pytest.raises(Unimplemented) as refusal:
        check(config)
    assert row.split(".")[-1] in str(refusal.value), str(refusal.value)


def kubelet_pod() -> cri.PodSandboxConfig:
    """What a kubelet sends for a pod that asks for none of the refused features."""
    context = cri.LinuxSandboxSecurityContext(
        namespace_options=cri.NamespaceOption(
            pid=cri.CONTAINER, userns_options=cri.UserNamespace(mode=cri.NODE)
        ),
        run_as_user=cri.Int64Value(value=1000),
        supplemental_groups=[2000],
        seccomp=cri.SecurityProfile(profile_type=cri.SecurityProfile.RuntimeDefault),
    )
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p", namespace="default", uid="u"),
        linux=cri.LinuxPodSandboxConfig(
            security_context=context,
            sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
            resources=cri.LinuxContainerResources(cpu_shares=102, memory_limit_in_bytes=1 << 28),
            overhead=cri.LinuxContainerResources(),
        ),
    )


def test_what_a_kubelet_sends_by_default_is_accepted() -> None:
    unhonoured.pod_config(kubelet_pod())
    container = minimal("ContainerConfig")
    assert isinstance(container, cri.ContainerConfig)
    container.linux.security_context.namespace_options.CopyFrom(
        cri.NamespaceOption(pid=cri.CONTAINER, userns_options=cri.UserNamespace(mode=cri.NODE))
    )
    container.mounts.add(container_path="/data", host_path="/tmp", selinux_relabel=True)
    unhonoured.container_config(container)
