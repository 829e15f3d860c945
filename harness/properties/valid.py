"""Properties of valid specs: what the configs say is what status, list and the container show."""

from __future__ import annotations

import secrets

from cri_api.v1 import api_pb2 as cri

from harness import probes
from harness.lab import Lab
from harness.properties.registry import register
from harness.spec_files import Spec
from harness.specs import expected_argv, process_marker


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
        assert probes.init_argv(lab.client, container.id) == expected_argv(config)
        environment = probes.init_environment(lab.client, container.id)
        for variable in config.envs:
            assert environment.get(variable.key) == variable.value, variable.key
        cwd = probes.run_in(lab.client, container.id, "readlink /proc/1/cwd").strip()
        assert cwd == (config.working_dir or "/")


@register("pod-dns", "properties.pod-dns")
def pod_dns_is_as_configured(lab: Lab, spec: Spec) -> None:
    """Every container has the pod's hostname and a resolv.conf made of its DNS config."""
    _, containers = lab.run_spec(spec)
    dns = spec.pod.dns_config
    for container in containers:
        assert probes.hostname(lab.client, container.id) == spec.pod.hostname
        resolv = probes.resolv_conf(lab.client, container.id)
        assert resolv.get("nameserver", []) == list(dns.servers)
        assert resolv.get("search", []) == list(dns.searches)
        assert resolv.get("options", []) == list(dns.options)


@register("mounts", "properties.mounts")
def mounts_are_as_configured(lab: Lab, spec: Spec) -> None:
    """Each host folder shows at its container path; writes pass unless it is read-only."""
    _, containers = lab.run_spec(spec)
    for container in containers:
        for mount in container.config.mounts:
            origin = probes.read_file(lab.client, container.id, f"{mount.container_path}/origin")
            assert origin == f"{mount.host_path.rsplit('/', 1)[1]}\n", mount.container_path
            token = secrets.token_hex(4)
            write = f"echo {token} > '{mount.container_path}/{token}'"
            code = probes.exit_code_of(lab.client, container.id, write)
            written = f"{mount.host_path}/{token}"
            if mount.readonly:
                assert code != 0, f"wrote to read-only mount {mount.container_path}"
            else:
                assert code == 0, f"cannot write to mount {mount.container_path}"
                with open(written) as file:
                    assert file.read() == f"{token}\n"


def expected_cgroup(resources: cri.LinuxContainerResources, v2: bool) -> dict[str, str]:
    """cgroup file -> value for every limit the config sets (v2 converts shares to weight)."""
    expected: dict[str, str] = {}
    if resources.memory_limit_in_bytes:
        key = "memory.max" if v2 else "memory/memory.limit_in_bytes"
        expected[key] = str(resources.memory_limit_in_bytes)
    if resources.cpu_shares:
        if v2:  # the conversion runc and crun apply
            expected["cpu.weight"] = str(1 + ((resources.cpu_shares - 2) * 9999) // 262142)
        else:
            expected["cpu/cpu.shares"] = str(resources.cpu_shares)
    if resources.cpu_period:
        if v2:
            expected["cpu.max"] = f"{resources.cpu_quota} {resources.cpu_period}"
        else:
            expected["cpu/cpu.cfs_period_us"] = str(resources.cpu_period)
            expected["cpu/cpu.cfs_quota_us"] = str(resources.cpu_quota)
    return expected


@register("resources", "properties.resources")
def resources_are_as_configured(lab: Lab, spec: Spec) -> None:
    """The container's cgroup holds the memory and CPU limits of its config."""
    _, containers = lab.run_spec(spec)
    for container in containers:
        v2 = probes.cgroup_v2(lab.client, container.id)
        expected = expected_cgroup(container.config.linux.resources, v2)
        seen = {
            name: probes.read_file(lab.client, container.id, f"/sys/fs/cgroup/{name}").strip()
            for name in expected
        }
        assert seen == expected


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
        assert pod_ip in probes.ipv4_addresses(lab.client, viewer.id), viewer.name
        assert probes.hostname(lab.client, viewer.id) == spec.pod.hostname, viewer.name
        seen = "\n".join(probes.process_args(lab.client, viewer.id))
        for other in containers:
            visible = other is viewer or (shares_pids[viewer.name] and shares_pids[other.name])
            assert (process_marker(other.name) in seen) == visible, (
                f"{viewer.name} (pid {'POD' if shares_pids[viewer.name] else 'CONTAINER'}) "
                f"{'does not see' if visible else 'sees'} the process of {other.name}"
            )
