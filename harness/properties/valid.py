"""Properties of valid specs: what the configs say is what status, list and the container show."""

from __future__ import annotations

import secrets

from cri_api.v1 import api_pb2 as cri

from harness import probes
from harness.cgroups import read_limits
from harness.properties.lab import Lab
from harness.properties.registry import register
from harness.properties.spec_files import Spec
from harness.properties.specs import expected_argv, process_marker


@register("pod-metadata", "properties.pod-metadata")
def pod_metadata_round_trips(lab: Lab, spec: Spec) -> None:
    """Metadata, labels and annotations come back unchanged from status and from list."""
    pod = lab.run_pod(spec.pod)
    status = lab.client.pod_status(pod.id).status
    assert status.metadata == spec.pod.metadata
    assert dict(status.labels) == dict(spec.pod.labels)
    assert dict(status.annotations) == dict(spec.pod.annotations)

    (listed,) = lab.client.list_pods(cri.PodSandboxFilter(id=pod.id))
    assert listed.metadata == spec.pod.metadata
    assert dict(listed.labels) == dict(spec.pod.labels)
    assert dict(listed.annotations) == dict(spec.pod.annotations)
    selected = lab.client.list_pods(cri.PodSandboxFilter(label_selector=dict(spec.pod.labels)))
    assert [item.id for item in selected] == [pod.id], "a selector of all its labels"


@register("container-metadata", "properties.container-metadata")
def container_metadata_round_trips(lab: Lab, spec: Spec) -> None:
    """A container's metadata, labels and annotations come back from status and list."""
    pod = lab.run_pod(spec.pod)
    for config in spec.containers:
        container = lab.create(pod, config)
        status = lab.client.container_status(container.id).status
        assert status.metadata == config.metadata
        assert dict(status.labels) == dict(config.labels)
        assert dict(status.annotations) == dict(config.annotations)

        everything = cri.ContainerFilter(pod_sandbox_id=pod.id, label_selector=dict(config.labels))
        (listed,) = lab.client.list_containers(everything)
        assert listed.id == container.id
        assert listed.metadata == config.metadata
        assert dict(listed.labels) == dict(config.labels)
        assert dict(listed.annotations) == dict(config.annotations)


@register("container-process", "properties.container-process")
def container_process_is_as_configured(lab: Lab, spec: Spec) -> None:
    """PID 1 has exactly the argv, environment and working directory of the config."""
    _, containers = lab.run_spec(spec)
    for container in containers:
        config = container.config
        assert probes.init_argv_in(lab.client, container.id) == expected_argv(config)
        environ, cwd = probes.outputs_in(
            lab.client, container.id, probes.INIT_ENVIRONMENT, probes.INIT_CWD
        )
        environment = probes.parse_environment(environ)
        for variable in config.envs:
            assert environment.get(variable.key) == variable.value, variable.key
        assert cwd.decode().strip() == (config.working_dir or "/")


@register("pod-dns", "properties.pod-dns")
def pod_dns_is_as_configured(lab: Lab, spec: Spec) -> None:
    """Every container has the pod's hostname and a resolv.conf made of its DNS config."""
    _, containers = lab.run_spec(spec)
    dns = spec.pod.dns_config
    for container in containers:
        hostname, resolv_conf = probes.outputs_in(
            lab.client, container.id, probes.HOSTNAME, probes.RESOLV_CONF
        )
        assert hostname.decode().strip() == spec.pod.hostname
        resolv = probes.parse_resolv_conf(resolv_conf.decode())
        assert resolv.get("nameserver", []) == list(dns.servers)
        assert resolv.get("search", []) == list(dns.searches)
        assert resolv.get("options", []) == list(dns.options)


@register("mounts", "properties.mounts")
def mounts_are_as_configured(lab: Lab, spec: Spec) -> None:
    """Each host folder shows at its container path; writes pass unless it is read-only."""
    _, containers = lab.run_spec(spec)
    for container in containers:
        for mount in container.config.mounts:
            origin = probes.read_file_in(lab.client, container.id, f"{mount.container_path}/origin")
            assert origin == f"{mount.host_path.rsplit('/', 1)[1]}\n", mount.container_path
            token = secrets.token_hex(4)
            write = f"echo {token} > '{mount.container_path}/{token}'"
            code = probes.exit_code_in(lab.client, container.id, write)
            written = f"{mount.host_path}/{token}"
            if mount.readonly:
                assert code != 0, f"wrote to read-only mount {mount.container_path}"
            else:
                assert code == 0, f"cannot write to mount {mount.container_path}"
                with open(written) as file:
                    assert file.read() == f"{token}\n"


@register("resources", "properties.resources")
def resources_are_as_configured(lab: Lab, spec: Spec) -> None:
    """The container's cgroup holds the memory and CPU limits its config sets."""
    _, containers = lab.run_spec(spec)
    for container in containers:
        wanted = container.config.linux.resources
        limits = read_limits(lab.client, container)
        if wanted.memory_limit_in_bytes:
            assert limits.memory_limit == wanted.memory_limit_in_bytes, "memory limit"
        if wanted.cpu_shares:
            assert limits.cpu_weight == limits.weight_for_shares(wanted.cpu_shares), "CPU shares"
        if wanted.cpu_period:
            quota = (limits.cpu_quota, limits.cpu_period)
            assert quota == (wanted.cpu_quota, wanted.cpu_period), "CPU quota and period"


@register("multi-shapes", "properties.multi-shapes")
def pod_invariants_hold_for_any_shape(lab: Lab, spec: Spec) -> None:
    """One pod IP and one hostname for all; process visibility follows each pid option."""
    pod, containers = lab.run_spec(spec)
    pod_ip = lab.client.pod_status(pod.id).status.network.ip
    assert pod_ip, "PodSandboxStatus reports no pod IP"
    shares_pids = {
        c.name: c.config.linux.security_context.namespace_options.pid == cri.POD for c in containers
    }
    for viewer in containers:
        outputs = probes.outputs_in(
            lab.client, viewer.id, probes.IPV4_ADDRESSES, probes.HOSTNAME, probes.PROCESS_ARGS
        )
        addresses_out, hostname_out, processes_out = (output.decode() for output in outputs)
        addresses = probes.parse_ipv4_addresses(addresses_out)
        assert pod_ip in addresses, f"{viewer.name} lacks the pod IP {pod_ip}: {sorted(addresses)}"
        hostname = hostname_out.strip()
        assert hostname == spec.pod.hostname, f"{viewer.name} has hostname {hostname!r}"
        seen = "\n".join(probes.parse_process_args(processes_out))
        for other in containers:
            visible = other is viewer or (shares_pids[viewer.name] and shares_pids[other.name])
            assert (process_marker(other.name) in seen) == visible, (
                f"{viewer.name} (pid {'POD' if shares_pids[viewer.name] else 'CONTAINER'}) "
                f"{'does not see' if visible else 'sees'} the process of {other.name}"
            )
