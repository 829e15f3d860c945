"""Hypothesis strategies for valid CRI pod and container configs.

Small named strategies (names, label maps, env, commands, DNS, ports, mounts, resources)
compose into ``pod_configs`` and ``container_configs``, the way hypothesis builds its own
strategies. Every config is valid by construction: names are DNS-1123, labels follow the
Kubernetes rules, values stay in ranges the kernel accepts. Every config is also owned by the
run (``Owner``), so the harness cleans up whatever an example creates.

Strategies for invalid input live next door, in ``invalid_specs``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cri_api.v1 import api_pb2 as cri
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from harness.builders import container_config, pod_config, unique_name
from harness.ownership import RUN_LABEL
from harness.properties.security_specs import security_contexts
from harness.properties.spec_files import Spec

LOWER = "abcdefghijklmnopqrstuvwxyz"
LETTERS = LOWER + LOWER.upper()
LOWER_ALNUM = LOWER + "0123456789"
ALNUM = LETTERS + "0123456789"
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
# The suffix unique_name() appends ("-" and 8 hex digits), so names stay DNS-1123 labels.
UNIQUE_SUFFIX = 9
EXAMPLE_LABEL = "cri-conformance.io/example"
# Keys the harness itself sets; generated labels and annotations stay clear of them.
RESERVED_PREFIX = RUN_LABEL.split("/", 1)[0]
PAGE = 4096
MIB = 1024 * 1024


@dataclass(frozen=True)
class Owner:
    """Who owns generated configs: the run's label, the test, where logs and volumes go."""

    run_id: str
    test: str = ""
    log_root: str = ""
    volume_root: str = ""


# -- names ------------------------------------------------------------------------------


def _names(ends: str, middle: str, max_size: int) -> SearchStrategy[str]:
    """Strings of 1..max_size characters from ``middle``, beginning and ending in ``ends``.

    Drawn as a first character and a text whose trailing characters not in ``ends`` are cut,
    so that hypothesis shrinks a name by deleting characters anywhere and each character
    towards ``0``: the simplest name holding a digit is ``0``.
    """
    cut = "".join(sorted(set(middle) - set(ends)))

    @st.composite
    def names(draw: st.DrawFn) -> str:
        first = draw(st.text(ends, min_size=1, max_size=1))
        return first + draw(st.text(middle, max_size=max_size - 1)).rstrip(cut)

    return names()


def dns1123_labels(max_size: int = DNS1123_LABEL_MAX) -> SearchStrategy[str]:
    """``[a-z0-9]([-a-z0-9]*[a-z0-9])?``, at most ``max_size`` characters."""
    return _names(LOWER_ALNUM, LOWER_ALNUM + "-", max_size)


def dns1123_subdomains(
    max_labels: int = 4, max_size: int = DNS1123_SUBDOMAIN_MAX
) -> SearchStrategy[str]:
    """Dot-separated DNS-1123 labels, at most ``max_size`` characters in all."""
    labels = st.lists(dns1123_labels(max_size=20), min_size=1, max_size=max_labels)
    return labels.map(".".join).filter(lambda name: len(name) <= max_size)


def qualified_names(max_size: int = QUALIFIED_NAME_MAX) -> SearchStrategy[str]:
    """The name part of a Kubernetes label key: ``([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]``."""
    return _names(ALNUM, ALNUM + "-_.", max_size)


def label_keys() -> SearchStrategy[str]:
    """``[prefix/]name``: an optional DNS-1123 subdomain prefix, not the harness's own."""
    prefixes = dns1123_subdomains(max_labels=3).filter(lambda p: p != RESERVED_PREFIX)
    prefixed = st.tuples(prefixes, qualified_names()).map("/".join)
    return st.one_of(qualified_names(), prefixed)


def label_values() -> SearchStrategy[str]:
    return st.one_of(st.just(""), qualified_names(max_size=LABEL_VALUE_MAX))


def label_maps(max_size: int = 4) -> SearchStrategy[dict[str, str]]:
    return st.dictionaries(label_keys(), label_values(), max_size=max_size)


def printable_text(max_size: int = 64, min_size: int = 0) -> SearchStrategy[str]:
    """Any Unicode text a protobuf string and an execve argument can carry (no NUL)."""
    characters = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(characters, min_size=min_size, max_size=max_size)


def annotation_maps(max_size: int = 4) -> SearchStrategy[dict[str, str]]:
    return st.dictionaries(label_keys(), printable_text(), max_size=max_size)


# -- the container's process ----------------------------------------------------------


@st.composite
def env_names(draw: st.DrawFn) -> str:
    """A Kubernetes environment variable name: ``[-._a-zA-Z][-._a-zA-Z0-9]*``."""
    first = draw(st.sampled_from(LETTERS + "-._"))
    return first + draw(st.text(ALNUM + "-._", max_size=24))


def envs(max_size: int = 5) -> SearchStrategy[dict[str, str]]:
    """Environment maps; PATH stays the image's, or the runtime could not find ``sh``."""
    names = env_names().filter(lambda name: name != "PATH")
    return st.dictionaries(names, printable_text(), max_size=max_size)


def process_marker(container_name: str) -> str:
    """What identifies a generated container's process in ``ps`` output."""
    return f"# [{container_name}]"


def keepalive(container_name: str, output: str = "") -> str:
    """A script that keeps the container alive as PID 1 and names it in ``ps`` (a comment).

    busybox sh would exec a lone command in place of itself; a loop it cannot. ``output``, a
    script of its own, runs first: what it prints is the container's log.
    """
    return f"{output}while :; do sleep 3600; done {process_marker(container_name)}"


@st.composite
def command_lines(
    draw: st.DrawFn, container_name: str, output: str = ""
) -> tuple[list[str], list[str]]:
    """``(command, args)`` in the three shapes CRI allows; the process runs ``keepalive``.

    ``sh -c SCRIPT ARG0 ARG1...``: the extra words are the generated part, and the process's
    argv must be exactly ``command + args`` (or ``args`` alone when command is empty).
    """
    program = ["sh", "-c", keepalive(container_name, output)]
    extra = draw(st.lists(printable_text(max_size=20), max_size=4))
    split = draw(st.sampled_from(["command", "command+args", "args"]))
    if split == "command":
        return program + extra, []
    if split == "command+args":
        return program, extra
    return [], program + extra


def expected_argv(config: cri.ContainerConfig) -> list[str]:
    """The argv CRI promises for a busybox container (an image without ENTRYPOINT)."""
    return [*config.command, *config.args] if config.command else list(config.args)


def working_dirs() -> SearchStrategy[str]:
    return st.one_of(st.just(""), dns1123_labels(max_size=20).map(lambda name: f"/{name}"))


# -- pod-level settings -----------------------------------------------------------------


def ipv4_servers() -> SearchStrategy[str]:
    """Name servers for the config only: loopback and TEST-NET-1, nothing anyone answers."""
    loopback = st.integers(1, 254).map(lambda n: f"127.0.0.{n}")
    test_net = st.integers(1, 254).map(lambda n: f"192.0.2.{n}")
    return st.one_of(loopback, test_net)


def dns_options() -> SearchStrategy[str]:
    numbered = st.sampled_from(["ndots", "timeout", "attempts"])
    valued = st.tuples(numbered, st.integers(1, 15)).map(lambda pair: f"{pair[0]}:{pair[1]}")
    flags = st.sampled_from(["rotate", "edns0", "single-request", "use-vc"])
    return st.one_of(valued, flags)


def dns_configs() -> SearchStrategy[cri.DNSConfig]:
    return st.builds(
        cri.DNSConfig,
        servers=st.lists(ipv4_servers(), min_size=1, max_size=3, unique=True),
        searches=st.lists(dns1123_subdomains(max_labels=3), max_size=6, unique=True),
        options=st.lists(dns_options(), max_size=4, unique_by=lambda option: option.split(":")[0]),
    )


def port_mappings(max_size: int = 3) -> SearchStrategy[list[cri.PortMapping]]:
    """Container ports only: a generated host port could take over a port of the node."""
    mapping = st.builds(
        cri.PortMapping,
        protocol=st.sampled_from([cri.TCP, cri.UDP]),
        container_port=st.integers(1, 65535),
        host_port=st.just(0),
    )
    return st.lists(mapping, max_size=max_size, unique_by=lambda m: (m.protocol, m.container_port))


def pid_modes() -> SearchStrategy[cri.NamespaceMode.ValueType]:
    """POD or CONTAINER; NODE would show the node's processes, TARGET needs a peer."""
    return st.sampled_from([cri.POD, cri.CONTAINER])


def namespace_options() -> SearchStrategy[cri.NamespaceOption]:
    return st.builds(cri.NamespaceOption, network=st.just(cri.POD), pid=pid_modes())


# -- mounts and resources ---------------------------------------------------------------


@st.composite
def host_mounts(draw: st.DrawFn, volume_root: str, max_size: int = 3) -> list[cri.Mount]:
    """Host folders under ``volume_root`` mounted at distinct paths under /mnt."""
    names = draw(st.lists(dns1123_labels(max_size=20), max_size=max_size, unique=True))
    return [
        cri.Mount(
            container_path=f"/mnt/{name}",
            host_path=f"{volume_root}/{name}",
            readonly=draw(st.booleans()),
        )
        for name in names
    ]


@st.composite
def linux_resources(draw: st.DrawFn) -> cri.LinuxContainerResources:
    """Limits the kernel accepts; 0 means unset. Memory in whole pages, at least 16 MiB."""
    memory = draw(st.one_of(st.just(0), st.integers(16 * MIB // PAGE, 1024 * MIB // PAGE)))
    shares = draw(st.one_of(st.just(0), st.integers(2, 262144)))
    period = draw(st.one_of(st.just(0), st.integers(1000, 1_000_000)))
    quota = draw(st.integers(1000, 4 * period)) if period else 0
    return cri.LinuxContainerResources(
        memory_limit_in_bytes=memory * PAGE, cpu_shares=shares, cpu_period=period, cpu_quota=quota
    )


# -- whole configs ----------------------------------------------------------------------


@st.composite
def pod_configs(draw: st.DrawFn, owner: Owner) -> cri.PodSandboxConfig:
    """A pod config the runtime must run as given, labelled as the run's."""
    name = unique_name(draw(dns1123_labels(max_size=DNS1123_LABEL_MAX - UNIQUE_SUFFIX)))
    fields: dict[str, Any] = {
        "hostname": draw(dns1123_labels()),
        "dns_config": draw(dns_configs()),
        "port_mappings": draw(port_mappings()),
        "linux": cri.LinuxPodSandboxConfig(
            security_context=cri.LinuxSandboxSecurityContext(
                namespace_options=draw(namespace_options())
            )
        ),
    }
    if owner.log_root:
        fields["log_directory"] = f"{owner.log_root}/{name}"
    return pod_config(
        name,
        run_id=owner.run_id,
        test=owner.test,
        namespace=draw(dns1123_labels()),
        uid=str(uuid.uuid4()),
        attempt=draw(st.integers(0, 5)),
        labels={**draw(label_maps()), EXAMPLE_LABEL: name},
        annotations=draw(annotation_maps()),
        **fields,
    )


@st.composite
def container_configs(
    draw: st.DrawFn,
    owner: Owner,
    image: str,
    name: str | None = None,
    pid_mode: SearchStrategy[cri.NamespaceMode.ValueType] | None = None,
    mounts: bool = False,
    resources: bool = False,
    security: bool = False,
    output: str = "",
) -> cri.ContainerConfig:
    """A container config for ``image`` (a busybox), running ``keepalive`` as PID 1, which
    runs ``output`` first; ``security`` adds a generated security context."""
    name = name or draw(dns1123_labels())
    command, args = draw(command_lines(name, output))
    namespaces = cri.NamespaceOption(
        pid=draw(st.just(cri.CONTAINER) if pid_mode is None else pid_mode)
    )
    context = (
        draw(security_contexts(namespaces))
        if security
        else cri.LinuxContainerSecurityContext(namespace_options=namespaces)
    )
    linux = cri.LinuxContainerConfig(
        security_context=context,
        resources=draw(linux_resources()) if resources else None,
    )
    return container_config(
        name,
        image,
        run_id=owner.run_id,
        test=owner.test,
        attempt=draw(st.integers(0, 5)),
        command=command,
        args=args,
        env=draw(envs()),
        labels=draw(label_maps()),
        annotations=draw(annotation_maps()),
        working_dir=draw(working_dirs()),
        mounts=draw(host_mounts(owner.volume_root)) if mounts else [],
        log_path=f"{name}.log",
        linux=linux,
    )


@st.composite
def pod_specs(
    draw: st.DrawFn,
    owner: Owner,
    image: str,
    property: str,
    containers: tuple[int, int] = (1, 1),
    pid_mode: SearchStrategy[cri.NamespaceMode.ValueType] | None = None,
    mounts: bool = False,
    resources: bool = False,
    security: bool = False,
    output: str = "",
) -> Spec:
    """A pod with at least ``containers[0]`` and at most ``containers[1]`` containers of
    distinct names; the other options are those of ``container_configs``.

    The containers are one list, each drawn whole (name and config), so that hypothesis
    shrinks a pod by deleting any one of them.
    """
    container = dns1123_labels(max_size=30).flatmap(
        lambda name: container_configs(
            owner,
            image,
            name,
            pid_mode=pid_mode,
            mounts=mounts,
            resources=resources,
            security=security,
            output=output,
        )
    )
    least, most = containers
    configs = draw(
        st.lists(
            container,
            min_size=least,
            max_size=most,
            unique_by=lambda config: config.metadata.name,
        )
    )
    return Spec(property, draw(pod_configs(owner)), tuple(configs), volume_root=owner.volume_root)
