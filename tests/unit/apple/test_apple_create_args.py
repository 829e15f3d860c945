"""Each CRI field the apple backend translates, as the `container create` command line it
gives and as the container the CLI records; what it cannot honour answers UNIMPLEMENTED."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from apple_double import BUSYBOX, ENTRYPOINT, CliDouble
from cri_api.v1 import api_pb2 as cri
from cri_config_fields import PodSandboxConfigFields
from cri_specs import container_config, container_spec, create, pod_config, resolv_conf, run_pod

from reference_shim.backends.apple.backend import AppleBackend
from reference_shim.errors import ShimError
from reference_shim.state.records import PodRecord


@pytest.fixture
def pod(backend: AppleBackend) -> PodRecord:
    return run_pod(backend, pod_config(hostname="webhost"))


def refused(code: grpc.StatusCode, fragment: str) -> pytest.RaisesExc[ShimError]:
    return pytest.raises(
        ShimError, check=lambda error: error.code is code and fragment in str(error)
    )


def unimplemented(fragment: str) -> pytest.RaisesExc[ShimError]:
    return refused(grpc.StatusCode.UNIMPLEMENTED, fragment)


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == flag]


def test_command_and_args_replace_the_entrypoint_and_pass_through_as_arguments(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    config = container_config(BUSYBOX, command=["sh", "-c"], args=["echo -n hi", "--not-a-flag"])
    vm_id = create(backend, pod, config)
    argv = double.last("create")
    assert argv[argv.index("--entrypoint") :] == [
        "--entrypoint",
        "sh",
        BUSYBOX,
        "-c",
        "echo -n hi",
        "--not-a-flag",
    ]
    process = double.config(vm_id)["initProcess"]
    assert (process["executable"], process["arguments"]) == (
        "sh",
        ["-c", "echo -n hi", "--not-a-flag"],
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], ["/bin/entry", "serve"]), (["other"], ["/bin/entry", "other"])],
)
def test_without_a_command_the_image_entrypoint_runs_with_args_or_the_image_cmd(
    backend: AppleBackend, pod: PodRecord, double: CliDouble, args: list[str], expected: list[str]
) -> None:
    config = container_config(ENTRYPOINT, command=[], args=args)
    vm_id = create(backend, pod, config)
    process = double.config(vm_id)["initProcess"]
    assert [process["executable"], *process["arguments"]] == expected
    assert process["workingDirectory"] == "/srv"  # the image's, none was asked for


def test_env_workdir_and_numeric_user(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    config = container_config(
        BUSYBOX,
        envs=[
            cri.KeyValue(key="GREETING", value="hello world"),
            cri.KeyValue(key="EQ", value="a=b"),
        ],
        working_dir="/work",
    )
    config.linux.security_context.run_as_user.value = 1234
    config.linux.security_context.run_as_group.value = 2345
    vm_id = create(backend, pod, config)
    argv = double.last("create")
    assert flag_values(argv, "--env") == ["GREETING=hello world", "EQ=a=b"]
    assert flag_values(argv, "--workdir") == ["/work"]
    assert flag_values(argv, "--user") == ["1234:2345"]
    process = double.config(vm_id)["initProcess"]
    assert {"GREETING=hello world", "EQ=a=b"} <= set(process["environment"])
    assert process["user"] == {"id": {"gid": 2345, "uid": 1234}}
    assert process["workingDirectory"] == "/work"


def test_a_user_name_is_resolved_in_the_guest(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    config = container_config(BUSYBOX)
    config.linux.security_context.run_as_username = "nobody"
    vm_id = create(backend, pod, config)
    assert double.config(vm_id)["initProcess"]["user"] == {"raw": {"userString": "nobody"}}


def test_mounts_are_absolute_virtiofs_shares_read_only_when_asked(
    backend: AppleBackend, pod: PodRecord, double: CliDouble, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    link = tmp_path / "link"
    link.symlink_to(shared)
    config = container_config(
        BUSYBOX,
        mounts=[
            cri.Mount(container_path="/data", host_path=str(link)),
            cri.Mount(container_path="/ro", host_path=str(shared), readonly=True),
        ],
    )
    vm_id = create(backend, pod, config)
    assert flag_values(double.last("create"), "--volume") == [f"{shared}:/data", f"{shared}:/ro:ro"]
    mounts = {m["destination"]: m for m in double.config(vm_id)["mounts"]}
    assert mounts["/data"]["type"] == {"virtiofs": {}}
    assert (mounts["/data"]["options"], mounts["/ro"]["options"]) == ([], ["ro"])


def test_mount_propagation_is_unimplemented(
    backend: AppleBackend, pod: PodRecord, tmp_path: Path
) -> None:
    mount = cri.Mount(
        container_path="/data", host_path=str(tmp_path), propagation=cri.PROPAGATION_BIDIRECTIONAL
    )
    with unimplemented("propagation"):
        create(backend, pod, container_config(BUSYBOX, mounts=[mount]))


def test_pod_dns_config_becomes_dns_flags(
    backend: AppleBackend, pod: PodRecord, double: CliDouble, tmp_path: Path
) -> None:
    dns = cri.DNSConfig(
        servers=["10.10.10.10", "10.0.0.2"], searches=["e.test"], options=["ndots:3"]
    )
    vm_id = create(backend, pod, container_config(BUSYBOX), resolv_conf(tmp_path, dns))
    argv = double.last("create")
    assert flag_values(argv, "--dns") == ["10.10.10.10", "10.0.0.2"]
    assert flag_values(argv, "--dns-search") == ["e.test"]
    assert flag_values(argv, "--dns-option") == ["ndots:3"]
    assert "/etc/resolv.conf" not in " ".join(flag_values(argv, "--volume"))
    assert double.config(vm_id)["dns"] == {
        "nameservers": ["10.10.10.10", "10.0.0.2"],
        "options": ["ndots:3"],
        "searchDomains": ["e.test"],
    }


def test_an_empty_dns_config_means_no_dns(
    backend: AppleBackend, pod: PodRecord, double: CliDouble, tmp_path: Path
) -> None:
    vm_id = create(backend, pod, container_config(BUSYBOX), resolv_conf(tmp_path, cri.DNSConfig()))
    assert "--no-dns" in double.last("create")
    assert "dns" not in double.config(vm_id)


def test_pod_port_mappings_are_published_by_the_container_carrying_the_pod(
    backend: AppleBackend, double: CliDouble
) -> None:
    config = pod_config(
        hostname="ports",
        port_mappings=[
            cri.PortMapping(container_port=80, host_port=8080, host_ip="127.0.0.1"),
            cri.PortMapping(protocol=cri.UDP, container_port=53, host_port=5353),
            cri.PortMapping(container_port=443, host_port=8443, host_ip="::1"),
            cri.PortMapping(container_port=9000),  # no host port: nothing to publish
        ],
    )
    vm_id = create(backend, run_pod(backend, config), container_config(BUSYBOX))
    assert flag_values(double.last("create"), "--publish") == [
        "127.0.0.1:8080:80/tcp",
        "5353:53/udp",
        "[::1]:8443:443/tcp",
    ]
    published = double.config(vm_id)["publishedPorts"]
    assert [
        (p["hostAddress"], p["hostPort"], p["containerPort"], p["proto"]) for p in published
    ] == [
        ("127.0.0.1", 8080, 80, "tcp"),
        ("0.0.0.0", 5353, 53, "udp"),
        ("::1", 8443, 443, "tcp"),
    ]


def test_sctp_ports_are_unimplemented(backend: AppleBackend) -> None:
    config = pod_config(
        port_mappings=[cri.PortMapping(protocol=cri.SCTP, container_port=9, host_port=9999)]
    )
    pod = run_pod(backend, config)
    with unimplemented("sctp"):
        create(backend, pod, container_config(BUSYBOX))


def test_cpu_quota_rounds_up_to_whole_vcpus_and_memory_to_whole_mib(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    config = container_config(BUSYBOX)
    resources = config.linux.resources
    resources.cpu_quota, resources.cpu_period = 150_000, 100_000
    resources.memory_limit_in_bytes = 300_000_000  # 286.1 MiB
    resources.cpu_shares, resources.oom_score_adj = 512, 500  # no effect in a VM of its own
    vm_id = create(backend, pod, config)
    argv = double.last("create")
    assert (flag_values(argv, "--cpus"), flag_values(argv, "--memory")) == (["2"], ["287M"])
    assert double.config(vm_id)["resources"] == {
        "cpuOverhead": 1,
        "cpus": 2,
        "memoryInBytes": 287 * 1024 * 1024,
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("memory_limit_in_bytes", 100 * 1024 * 1024, "200 MiB"),
        ("cpuset_cpus", "0-1", "cpusets"),
        ("memory_swap_limit_in_bytes", 1 << 40, "swap"),
    ],
)
def test_resources_apple_has_no_knob_for_are_unimplemented(
    backend: AppleBackend, pod: PodRecord, field: str, value: object, reason: str
) -> None:
    config = container_config(BUSYBOX)
    setattr(config.linux.resources, field, value)
    if field == "memory_swap_limit_in_bytes":
        config.linux.resources.memory_limit_in_bytes = 256 * 1024 * 1024
    with unimplemented(reason):
        create(backend, pod, config)


def test_security_context_flags(backend: AppleBackend, pod: PodRecord, double: CliDouble) -> None:
    config = container_config(BUSYBOX)
    context = config.linux.security_context
    context.readonly_rootfs = True
    context.capabilities.add_capabilities.append("CAP_NET_ADMIN")
    context.capabilities.drop_capabilities.append("ALL")
    context.masked_paths.append("/proc/kcore")
    context.readonly_paths.append("/proc/sys")
    context.seccomp.profile_type = cri.SecurityProfile.Unconfined
    vm_id = create(backend, pod, config)
    argv = double.last("create")
    assert "--read-only" in argv
    assert (flag_values(argv, "--cap-add"), flag_values(argv, "--cap-drop")) == (
        ["NET_ADMIN"],
        ["ALL"],
    )
    assert flag_values(argv, "--masked-path") == ["/proc/kcore"]
    assert flag_values(argv, "--read-only-path") == ["/proc/sys"]
    recorded = double.config(vm_id)
    assert (recorded["readOnly"], recorded["capAdd"], recorded["capDrop"]) == (
        True,
        ["NET_ADMIN"],
        ["ALL"],
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda c: c.supplemental_groups.append(5), "supplemental groups"),
        (lambda c: setattr(c, "no_new_privs", True), "no_new_privs"),
        (lambda c: setattr(c.seccomp, "profile_type", cri.SecurityProfile.Localhost), "seccomp"),
        (
            lambda c: setattr(c.seccomp, "profile_type", cri.SecurityProfile.RuntimeDefault),
            "seccomp",
        ),
    ],
)
def test_security_features_apple_lacks_are_unimplemented(
    backend: AppleBackend,
    pod: PodRecord,
    tmp_path: Path,
    change: Callable[[cri.LinuxContainerSecurityContext], object],
    reason: str,
) -> None:
    config = container_config(BUSYBOX)
    profile = tmp_path / "profile.json"
    profile.write_text("{}")
    config.linux.security_context.seccomp.localhost_ref = str(profile)
    change(config.linux.security_context)
    if reason != "seccomp":
        config.linux.security_context.ClearField("seccomp")
    with unimplemented(reason):
        create(backend, pod, config)


def test_devices_are_unimplemented(backend: AppleBackend, pod: PodRecord) -> None:
    config = container_config(
        BUSYBOX, devices=[cri.Device(host_path="/dev/null", container_path="/dev/x")]
    )
    with unimplemented("devices"):
        create(backend, pod, config)


def test_tty_stdin_and_stop_signal(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    config = container_config(BUSYBOX, tty=True, stdin=True, stop_signal=cri.SIGUSR1)
    vm_id = create(backend, pod, config)
    argv = double.last("create")
    assert {"--tty", "--interactive"} <= set(argv)
    assert double.config(vm_id)["initProcess"]["terminal"] is True
    backend.start_vm(vm_id)
    assert double.last("start") == ["start", "--attach", "--interactive", vm_id]
    backend.stop_vm(vm_id, timeout=7)
    assert double.last("stop") == ["stop", "--time", "7", "--signal", "SIGUSR1", vm_id]
    assert backend.inspect_vm(vm_id).exit_code == 128 + 10  # SIGUSR1, as the CLI reports it


def test_stdin_once_is_unimplemented(backend: AppleBackend, pod: PodRecord) -> None:
    with unimplemented("stdin_once"):
        create(backend, pod, container_config(BUSYBOX, stdin=True, stdin_once=True))


def test_label_values_with_equals_signs_travel_encoded(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    spec = container_spec(backend, pod, container_config(BUSYBOX))
    spec = replace(spec, labels={**spec.labels, "note": "a=b c", "plain": "x.y-z"})
    vm_id = backend.create_vm(spec)
    recorded = double.config(vm_id)["labels"]
    assert "=" not in recorded["note"]
    assert recorded["plain"] == "x.y-z"
    assert backend.inspect_vm(vm_id).labels["note"] == "a=b c"


def test_the_vm_id_starts_with_the_pod_hostname_which_defaults_to_the_pod_name(
    backend: AppleBackend, double: CliDouble
) -> None:
    named = run_pod(backend, pod_config(name="frontend"))
    vm_id = create(backend, named, container_config(BUSYBOX))
    assert vm_id.split(".")[0] == "frontend"
    assert double.config(vm_id)["id"] == vm_id


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"hostname": "web.example.test"}, "dots"),
        ({"hostname": "h" * 51}, "longer than 50"),
        ({"linux": cri.LinuxPodSandboxConfig(sysctls={"net.core.somaxconn": "1024"})}, "sysctl"),
        (
            {
                "linux": cri.LinuxPodSandboxConfig(
                    security_context=cri.LinuxSandboxSecurityContext(privileged=True)
                )
            },
            "privileged",
        ),
    ],
)
def test_pod_features_apple_lacks_are_unimplemented(
    backend: AppleBackend, fields: PodSandboxConfigFields, reason: str
) -> None:
    with unimplemented(reason):
        run_pod(backend, pod_config(**fields))


def test_a_pod_cgroup_parent_is_accepted_as_it_has_nothing_to_act_on(
    backend: AppleBackend,
) -> None:
    """macOS has no cgroups: the kubelet's pod cgroup has no counterpart, and every kubelet pod
    carries one, so refusing it would refuse every pod (the apple profile declares the rule)."""
    run_pod(backend, pod_config(linux=cri.LinuxPodSandboxConfig(cgroup_parent="/kubepods/pod1")))


def test_a_non_default_network_needs_macos_26(
    backend: AppleBackend, pod: PodRecord, double: CliDouble
) -> None:
    spec = container_spec(backend, pod, container_config(BUSYBOX))
    own_network = replace(spec, placement=replace(spec.placement, inside="", network="pod-net"))
    vm_id = backend.create_vm(own_network)
    assert flag_values(double.last("create"), "--network") == ["pod-net"]
    assert double.config(vm_id)["networks"][0]["network"] == "pod-net"
    double.settings(macos=15)
    spec = container_spec(backend, pod, container_config(BUSYBOX, name="other"))
    with unimplemented("macOS 26"):
        backend.create_vm(
            replace(spec, placement=replace(spec.placement, inside="", network="pod-net"))
        )
