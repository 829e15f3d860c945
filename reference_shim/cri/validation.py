"""Structural checks of CRI requests, before anything touches the backend.

Each check raises INVALID_ARGUMENT naming the field and what a valid value looks like.
Features the shim cannot honour are refused later, where configs become VM specs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from cri_api.v1 import api_pb2 as cri
from docker_image.reference import InvalidReference, Reference

from reference_shim.cri import log_paths
from reference_shim.errors import InvalidArgument

# RFC 1123 hostname: dot-separated labels of letters, digits and inner hyphens, 64 chars at most
# (the Linux limit for a UTS hostname).
_HOSTNAME_LABEL = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_MAX_HOSTNAME = 64
_PROTOCOLS = {cri.TCP, cri.UDP, cri.SCTP}
# The deprecated seccomp_profile_path: "" (unconfined), these names, or localhost/<path>.
_SECCOMP_PROFILE_NAMES = {"", "runtime/default", "docker/default", "unconfined"}
_LOCALHOST = "localhost/"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgument(message)


def pod_config(config: cri.PodSandboxConfig | None, has_config: bool) -> cri.PodSandboxConfig:
    _require(has_config and config is not None, "RunPodSandbox needs a config")
    assert config is not None
    _require(config.HasField("metadata"), "pod sandbox config must include metadata")
    metadata = config.metadata
    # Like containerd, only the name is required; kubelet always sets namespace and uid too.
    _require(bool(metadata.name), "pod sandbox metadata must include a name")
    if config.hostname:
        hostname(config.hostname)
    port_mappings(list(config.port_mappings))
    log_paths.pod_log_directory(config.log_directory)
    seccomp_profile_path(config.linux.security_context.seccomp_profile_path, "pod sandbox")
    unix_ids(config.linux.security_context, "pod linux.security_context")
    return config


def hostname(value: str) -> None:
    _require(
        len(value) <= _MAX_HOSTNAME and all(_HOSTNAME_LABEL.match(p) for p in value.split(".")),
        f"hostname {value!r} is not a valid RFC 1123 hostname (letters, digits, '-' and '.', "
        f"at most {_MAX_HOSTNAME} characters)",
    )


def port_mappings(mappings: list[cri.PortMapping]) -> None:
    seen: set[tuple[str, int, int]] = set()
    for mapping in mappings:
        _require(
            mapping.protocol in _PROTOCOLS, f"port mapping protocol {mapping.protocol} is unknown"
        )
        _require(
            1 <= mapping.container_port <= 65535,
            f"port mapping container_port {mapping.container_port} is outside 1-65535",
        )
        _require(
            0 <= mapping.host_port <= 65535,
            f"port mapping host_port {mapping.host_port} is outside 0-65535 (0: no host port)",
        )
        if mapping.host_port:
            key = (mapping.host_ip, mapping.host_port, mapping.protocol)
            _require(
                key not in seen,
                f"host port {mapping.host_ip or '*'}:{mapping.host_port} is mapped twice",
            )
            seen.add(key)


def container_config(config: cri.ContainerConfig | None, has_config: bool) -> cri.ContainerConfig:
    _require(has_config and config is not None, "CreateContainer needs a config")
    assert config is not None
    _require(config.HasField("metadata"), "container config must include metadata")
    _require(bool(config.metadata.name), "container metadata must include a name")
    _require(bool(config.image.image), "container config must name an image (image.image)")
    image_reference(config.image.image, "image.image")
    _require(
        not config.image.runtime_handler,
        f"image.runtime_handler {config.image.runtime_handler!r} is not configured; this shim "
        "has only the default handler ''",
    )
    for mount in config.mounts:
        _require(
            mount.container_path.startswith("/"),
            f"mount container_path {mount.container_path!r} must be an absolute path",
        )
        _mount_fields(mount)
    for env in config.envs:
        _require(bool(env.key), "an environment variable needs a key")
    for device in config.devices:
        _require(
            device.container_path.startswith("/") and device.host_path.startswith("/"),
            f"device {device.host_path!r} -> {device.container_path!r} needs absolute paths",
        )
    no_nul(_os_strings(config))
    linux_resources(config.linux.resources)
    security_context(config.linux.security_context)
    return config


def _mount_fields(mount: cri.Mount) -> None:
    """api.proto Mount: host_path "Has to be empty if the image field below is provided";
    image_sub_path is "only necessary if the above image field is set"; recursive_read_only
    needs readonly and PRIVATE propagation."""
    where = f"mount {mount.container_path!r}"
    if mount.image.image:
        _require(not mount.host_path, f"{where}: host_path and image are mutually exclusive")
        image_reference(mount.image.image, f"{where}: image.image")
        _require(
            not mount.image.runtime_handler,
            f"{where}: image.runtime_handler {mount.image.runtime_handler!r} is not configured; "
            "this shim has only the default handler ''",
        )
    else:
        _require(not mount.image_sub_path, f"{where}: image_sub_path needs an image")
    sub_path = mount.image_sub_path
    _require(
        not sub_path.startswith("/") and ".." not in sub_path.split("/"),
        f"{where}: image_sub_path {sub_path!r} must be a relative path inside the image",
    )
    if mount.recursive_read_only:
        _require(mount.readonly, f"{where}: recursive_read_only needs readonly")
        _require(
            mount.propagation == cri.PROPAGATION_PRIVATE,
            f"{where}: recursive_read_only needs PRIVATE propagation",
        )


def _os_strings(config: cri.ContainerConfig) -> Iterator[tuple[str, str]]:
    """The strings of a container config that become C strings (argv, environ, paths, names)."""
    yield from (("command", value) for value in config.command)
    yield from (("args", value) for value in config.args)
    for env in config.envs:
        yield from (("envs", env.key), ("envs", env.value))
    yield "working_dir", config.working_dir
    for mount in config.mounts:
        yield from (("mounts", mount.container_path), ("mounts", mount.host_path))
        yield from (("mounts", mount.image.image), ("mounts", mount.image_sub_path))
    for device in config.devices:
        yield from (("devices", device.container_path), ("devices", device.host_path))
    yield "linux.security_context.run_as_username", config.linux.security_context.run_as_username


def no_nul(strings: Iterable[tuple[str, str]]) -> None:
    """A NUL would cut the string short where it meets the kernel: refused, not truncated."""
    for field, value in strings:
        _require("\0" not in value, f"{field} must not contain a NUL character")


# Docker and runc take uids and gids in 0..2^31-1 only (CRI's fields are int64).
_MAX_UNIX_ID = 2**31 - 1


def unix_ids(
    context: cri.LinuxContainerSecurityContext | cri.LinuxSandboxSecurityContext, owner: str
) -> None:
    values = [(f"{owner}.supplemental_groups", group) for group in context.supplemental_groups]
    for name in ("run_as_user", "run_as_group"):
        if context.HasField(name):
            values.append((f"{owner}.{name}", getattr(context, name).value))
    for field, value in values:
        _require(0 <= value <= _MAX_UNIX_ID, f"{field} {value} is outside 0..{_MAX_UNIX_ID}")


_NON_NEGATIVE_RESOURCES = (
    "cpu_period",
    "cpu_quota",
    "cpu_shares",
    "memory_limit_in_bytes",
    "memory_swap_limit_in_bytes",
    "oom_score_adj",
)


def linux_resources(resources: cri.LinuxContainerResources) -> None:
    """Negative limits mean nothing to a cgroup (oom_score_adj may be negative down to -1000)."""
    for name in _NON_NEGATIVE_RESOURCES:
        value = getattr(resources, name)
        if name == "oom_score_adj":
            _require(-1000 <= value <= 1000, f"oom_score_adj {value} is outside -1000..1000")
        else:
            _require(value >= 0, f"resources.{name} must not be negative (got {value})")


def seccomp_profile_path(value: str, owner: str) -> None:
    """api.proto lists the candidate values; anything else (a bare path) is a typo to report,
    not a profile to guess at."""
    _require(
        value in _SECCOMP_PROFILE_NAMES or (value.startswith(_LOCALHOST) and value != _LOCALHOST),
        f"{owner} seccomp_profile_path {value!r} is none of runtime/default, docker/default, "
        f"unconfined or {_LOCALHOST}<path of the profile on the node>",
    )


def security_context(context: cri.LinuxContainerSecurityContext) -> None:
    """Options the API comments say cannot go together, and values the API does not list."""
    seccomp_profile_path(context.seccomp_profile_path, "container")
    unix_ids(context, "linux.security_context")
    _require(
        not (context.HasField("run_as_user") and context.run_as_username),
        "run_as_user and run_as_username are exclusive: set only one of them",
    )
    pid = context.namespace_options.pid
    _require(
        pid != cri.TARGET or bool(context.namespace_options.target_id),
        "namespace_options.pid TARGET needs namespace_options.target_id",
    )


def image_reference(value: str, field: str) -> str:
    """A Docker reference (``name[:tag][@digest]``, which covers image ids too), as the
    distribution grammar has it. Backends put references into URLs and command lines, so
    anything else is refused before it gets there (``../containers`` reached another endpoint
    of the Docker API)."""
    try:
        Reference.parse(value)
    except InvalidReference as error:
        raise InvalidArgument(f"{field} {value!r} is not an image reference: {error}") from None
    return value


def image_name(image: cri.ImageSpec | None) -> str:
    _require(image is not None and bool(image.image), "an image request must name an image")
    assert image is not None
    return image_reference(image.image, "image")


def exec_command(cmd: list[str]) -> None:
    _require(bool(cmd) and bool(cmd[0]), "ExecSync needs a command (cmd must not be empty)")


# The longest wait the shim hands to a backend, about 31 years. Docker counts durations in int64
# nanoseconds (292 years) and Python's socket and thread timeouts end near there too, so a longer
# wait overflows; and no caller can tell a wait of 31 years from one without end.
LONGEST_WAIT_S = 10**9


def timeout_seconds(timeout: int, rpc: str) -> int:
    """A CRI timeout in seconds: never negative; one beyond ``LONGEST_WAIT_S`` (the API allows
    up to 2^63-1) means "as long as it takes", and becomes that longest wait."""
    _require(timeout >= 0, f"{rpc} timeout must not be negative (got {timeout})")
    return min(timeout, LONGEST_WAIT_S)
