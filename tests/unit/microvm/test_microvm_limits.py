"""The microvm backend's resources, kernel settings and privileges: cgroup files, VM size,
sysctl paths, the agent's figures, groups and capabilities, and the spec lines that carry them
(no VM boots here)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from linux_capabilities import CAPABILITIES
from reference_shim.backends.base import ProcessUser, ResourceSpec, SecuritySpec
from reference_shim.backends.microvm import host_cgroup, limits, privileges, workload
from reference_shim.backends.microvm.launch import MEMORY_MIB, Launch
from reference_shim.errors import InvalidArgument, Unimplemented

HOST_CPUS = os.cpu_count() or 1
MIB = 1024 * 1024


def test_cpu_and_memory_become_the_cgroup_v2_files_runc_writes() -> None:
    files = dict(
        limits.cgroup_files(
            ResourceSpec(
                cpu_shares=512, cpu_quota=50000, cpu_period=100000,
                memory_limit=128 * MIB, memory_swap_limit=128 * MIB, cpuset_cpus="0",
            )
        )
    )  # fmt: skip
    assert files == {
        "cpu.weight": "20",  # runc: 1 + ((512 - 2) * 9999) // 262142
        "cpu.max": "50000 100000",
        "memory.max": str(128 * MIB),
        "memory.swap.max": "0",  # CRI's swap limit is memory plus swap
        "cpuset.cpus": "0",
    }


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (ResourceSpec(), {}),
        (ResourceSpec(cpu_period=50000), {"cpu.max": "max 50000"}),
        (ResourceSpec(cpu_quota=20000), {"cpu.max": "20000 100000"}),
        (
            ResourceSpec(memory_limit=64 * MIB, memory_swap_limit=-1),
            {"memory.max": str(64 * MIB), "memory.swap.max": "max"},
        ),
        (
            ResourceSpec(memory_limit=64 * MIB, memory_swap_limit=96 * MIB),
            {"memory.max": str(64 * MIB), "memory.swap.max": str(32 * MIB)},
        ),
    ],
)
def test_unset_fields_leave_their_files_alone(
    resources: ResourceSpec, expected: dict[str, str]
) -> None:
    assert dict(limits.cgroup_files(resources)) == expected


def test_a_memory_limit_gets_a_vm_with_room_for_the_guest_above_it() -> None:
    assert limits.vm_memory_mib(ResourceSpec()) == MEMORY_MIB
    assert limits.vm_memory_mib(ResourceSpec(memory_limit=16 * MIB)) == MEMORY_MIB
    big = limits.vm_memory_mib(ResourceSpec(memory_limit=512 * MIB + 1))
    assert big == 513 + limits.GUEST_HEADROOM_MIB


def test_a_cpuset_sizes_the_vm_and_what_a_vm_cannot_have_is_refused() -> None:
    assert limits.vm_cpus(ResourceSpec(cpuset_cpus="0")) == 1
    assert limits.vm_cpus(ResourceSpec(cpu_quota=100_001, cpu_period=100_000)) == min(2, HOST_CPUS)
    assert limits.vm_cpus(ResourceSpec(cpu_quota=10**9)) == HOST_CPUS  # a ceiling: the host's
    assert limits.vm_cpus(ResourceSpec(cpu_quota=-1)) == 1
    assert limits.cpu_list("0-2,5") == {0, 1, 2, 5}
    with pytest.raises(Unimplemented, match="cpuset_cpus"):
        limits.vm_cpus(ResourceSpec(cpuset_cpus="4095"))
    with pytest.raises(Unimplemented, match="cpuset_mems"):
        limits.vm_cpus(ResourceSpec(cpuset_mems="1"))
    with pytest.raises(InvalidArgument, match="cpuset"):
        limits.cpu_list("3-1")


def test_an_update_beyond_what_the_vm_booted_with_is_refused() -> None:
    room = (MEMORY_MIB - limits.GUEST_HEADROOM_MIB) * MIB
    limits.refuse_update(ResourceSpec(memory_limit=room), MEMORY_MIB, 1)
    with pytest.raises(Unimplemented, match="hotplug memory"):
        limits.refuse_update(ResourceSpec(memory_limit=room + 1), MEMORY_MIB, 1)
    with pytest.raises(Unimplemented, match="hotplug CPUs"):
        limits.refuse_update(ResourceSpec(cpuset_cpus="1"), MEMORY_MIB, 1)


def test_a_vm_not_booted_yet_takes_new_limits_and_grows_for_them() -> None:
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(), limits=(("cpu.weight", "100"), ("memory.max", str(64 * MIB))),
    )  # fmt: skip
    grown = workload.relaunch(launch, ResourceSpec(memory_limit=512 * MIB))
    assert dict(grown.limits)["cpu.weight"] == "100"
    assert dict(grown.limits)["memory.max"] == str(512 * MIB)
    assert grown.memory_mib == 512 + limits.GUEST_HEADROOM_MIB


def test_new_limits_replace_every_line_of_a_file_and_keep_the_others() -> None:
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(), limits=(("io.max", "8:0 rbps=1"), ("io.max", "8:16 rbps=2"),
                                   ("pids.max", "9")),
    )  # fmt: skip
    updated = workload.relaunch(launch, ResourceSpec(unified=(("io.max", "8:0 wbps=3\n"),)))
    assert updated.limits == (("pids.max", "9"), ("io.max", "8:0 wbps=3"))


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("kernel.shm_rmid_forced", "kernel/shm_rmid_forced"),
        ("net.ipv4.conf.eth0/100.rp_filter", "net/ipv4/conf/eth0.100/rp_filter"),
        ("net/ipv4/conf/eth0.100/rp_filter", "net/ipv4/conf/eth0.100/rp_filter"),
        ("fs.mqueue.msg_max", "fs/mqueue/msg_max"),
    ],
)
def test_sysctl_names_become_their_files_under_proc_sys(name: str, path: str) -> None:
    assert limits.sysctl_path(name) == path


@pytest.mark.parametrize("name", ["", "kernel..x", "../etc/passwd", "net/../../x"])
def test_a_sysctl_name_that_leaves_proc_sys_is_invalid(name: str) -> None:
    with pytest.raises(InvalidArgument, match="sysctl"):
        limits.sysctl_path(name)


FIGURES = """usage_usec 1234
user_usec 1000
anon 4096
file 8192
inactive_file 2048
pgfault 77
pgmajfault 3
memory.current 16384
memory.max 67108864
pids.current 2
"""


def test_the_agents_figures_become_vm_stats() -> None:
    stats = limits.stats(FIGURES, 5, 512)
    assert stats.cpu_usage_ns == 1_234_000
    assert (stats.memory_usage, stats.memory_working_set, stats.memory_rss) == (16384, 14336, 4096)
    assert (stats.memory_limit, stats.page_faults, stats.major_page_faults) == (64 * MIB, 77, 3)
    assert (stats.pids, stats.timestamp, stats.writable_layer_bytes) == (2, 5, 512)
    assert limits.stats(FIGURES.replace("67108864", "max"), 5, 0).memory_limit == 0


def test_the_new_spec_lines_come_before_start_and_round_trip() -> None:
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(), **limits.settings(
            ResourceSpec(memory_limit=64 * MIB, oom_score_adj=-500),
            {"kernel.shm_rmid_forced": "1"},
        ),
    )  # fmt: skip
    lines = launch.lines()
    assert lines[-1] == "START"
    words = {line.split(" ", 1)[0]: line.split(" ")[1:] for line in lines[:-1]}
    assert [base64.b64decode(w).decode() for w in words["SYSCTL"]] == ["kernel/shm_rmid_forced=1"]
    assert [base64.b64decode(w).decode() for w in words["LIMITS"]] == [
        f"memory.max={64 * MIB}",
        "memory.swap.max=0",
    ]
    assert words["OOMSCOREADJ"] == ["-500"]
    assert Launch.from_json(launch.to_json()) == launch


class _Agent:
    """A Machine stand-in that answers one request kind with fixed words."""

    def __init__(self, answer: list[str]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, list[str]]] = []

    def ask(self, kind: str, words: object = ()) -> list[str]:
        self.asked.append((kind, list(words)))  # type: ignore[call-overload]
        return self.answer


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_credentials_are_the_processs_status_and_none_once_it_ended() -> None:
    status = "Uid:\t1000\t1000\t1000\t1000\nGid:\t3000\t3000\t3000\t3000\nGroups:\t5 6 \n"
    agent = _Agent(["0", _b64(status)])
    assert workload.credentials(agent) == ProcessUser(1000, 3000, (5, 6))  # type: ignore[arg-type]
    assert workload.credentials(_Agent(["0", ""])) is None  # type: ignore[arg-type]


def test_an_update_refused_by_the_guest_kernel_is_invalid() -> None:
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=0, gid=0, hostname="", readonly_rootfs=False,
        readonly_files=(),
    )  # fmt: skip
    agent = _Agent(["1", _b64("cannot write cpu.max")])
    with pytest.raises(InvalidArgument, match=r"cpu\.max"):
        workload.update(agent, launch, ResourceSpec(cpu_quota=1))  # type: ignore[arg-type]
    assert agent.asked == [("UPDATE", [_b64("cpu.max=1 100000")])]


def _image_table(name: str) -> list[list[str]]:
    files = {
        "passwd": "root:x:0:0::/:/bin/sh\nmember:x:2345:2346::/:/bin/sh\nloner:x:3456:3457::/:/",
        "group": "member:x:2346:\nfirst:x:5001:member\nsecond:x:5002:other,member\nx:x:9:other",
    }
    return [line.split(":") for line in files[name].splitlines()]


@pytest.mark.parametrize(
    ("uid", "gid", "added", "expected"),
    [
        (2345, 2346, (), (2346, 5001, 5002)),
        (3456, 3457, (), (3457,)),
        (1001, 1002, ("3001", "3002"), (1002, 3001, 3002)),
        (2345, 2346, ("5001", "7"), (2346, 5001, 5002, 7)),
    ],
)
def test_groups_merge_the_images_with_the_ones_added(
    uid: int, gid: int, added: tuple[str, ...], expected: tuple[int, ...]
) -> None:
    security = SecuritySpec(group_add=added)
    assert privileges.groups(uid, gid, security, _image_table) == expected


def test_strict_groups_are_the_primary_and_the_added_ones_only() -> None:
    security = SecuritySpec(group_add=("3001",), strict_groups=True)
    assert privileges.groups(2345, 2346, security, _image_table) == (2346, 3001)


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        (SecuritySpec(), privileges.DEFAULT_CAPABILITIES),
        (SecuritySpec(cap_drop=("ALL",)), frozenset()),
        (SecuritySpec(cap_add=("NET_BIND_SERVICE",), cap_drop=("ALL",)), {"NET_BIND_SERVICE"}),
        (SecuritySpec(cap_add=("ALL",)), privileges.every_capability()),
        (SecuritySpec(privileged=True, cap_drop=("ALL",)), privileges.every_capability()),
        (
            SecuritySpec(cap_add=("SYS_ADMIN",), cap_drop=("CHOWN",)),
            privileges.DEFAULT_CAPABILITIES - {"CHOWN"} | {"SYS_ADMIN"},
        ),
    ],
)
def test_the_bounding_set_is_containerds(security: SecuritySpec, expected: frozenset[str]) -> None:
    assert privileges.held_capabilities(security) == expected


def test_an_unknown_capability_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="NOT_A_CAP"):
        privileges.held_capabilities(SecuritySpec(cap_add=("NOT_A_CAP",)))


def test_the_privileges_line_carries_groups_capabilities_and_flags() -> None:
    security = SecuritySpec(
        cap_add=("NET_ADMIN",), cap_drop=("ALL",), no_new_privs=True,
        masked_paths=("/proc/kcore",), readonly_paths=("/proc/sys",),
    )  # fmt: skip
    fields = privileges.settings(2345, 2346, security, _image_table)
    launch = Launch(
        argv=("true",), env=(), working_dir="/", uid=2345, gid=2346, hostname="",
        readonly_rootfs=False, readonly_files=(), **fields,
    )  # fmt: skip
    words = {line.split(" ", 1)[0]: line.split(" ")[1:] for line in launch.lines()[:-1]}
    assert words["PRIVS"] == ["2346,5001,5002", f"{1 << CAPABILITIES.index('NET_ADMIN'):x}", "n"]
    assert base64.b64decode(words["MASKED"][0]) == b"/proc/kcore"
    assert base64.b64decode(words["ROPATHS"][0]) == b"/proc/sys"
    assert Launch.from_json(launch.to_json()) == launch
    privileged = privileges.settings(0, 0, SecuritySpec(privileged=True), _image_table)
    assert (privileged["masked_paths"], privileged["privileged"]) == ((), True)


def _v1_root(tmp_path: Path) -> Path:
    for name in ("cpu", "memory", "cpuset", "systemd"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cgroup.procs").write_text("")
    return tmp_path


def test_qemu_goes_below_the_cgroup_parent_in_each_hierarchy_that_needs_no_setup(
    tmp_path: Path,
) -> None:
    root = _v1_root(tmp_path)
    host_cgroup.place(4242, "/cri-conformance-1", "ab" * 32, root)
    placed = sorted(root.glob("*/cri-conformance-1/cri-microvm-*/cgroup.procs"))
    assert [path.parts[-4] for path in placed] == ["cpu", "memory"]  # not cpuset, not systemd
    assert {path.read_text() for path in placed} == {"4242"}
    for path in placed:  # a real cgroup's folder is empty once its process has gone
        path.unlink()
    host_cgroup.release("/cri-conformance-1", "ab" * 32, root)
    assert not list(root.glob("*/cri-conformance-1/cri-microvm-*"))


def test_on_the_unified_hierarchy_alone_qemu_goes_below_the_root(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory")
    assert host_cgroup.directories("a/b", "cd" * 32, tmp_path) == [
        tmp_path / "a" / "b" / f"cri-microvm-{'cd' * 8}"
    ]
