"""The probe script run inside a container, and how its output becomes fields."""

from __future__ import annotations

import subprocess

import pytest

from harness.diff.areas import ALL, AreaError, area_of, choose
from harness.diff.inside import (
    FIELDS,
    INSIDE_AREAS,
    PROBES,
    namespace_sharing,
    probes_for,
    script,
    split_sections,
)

TOKEN = "@@cri-diff-test@@"


def test_the_script_finds_the_process_by_its_marker_and_prints_each_section() -> None:
    """Run with the host's sh against a process of this test that carries the marker."""
    name = "web-1"
    keepalive = subprocess.Popen(["sh", "-c", f"sleep 30 # [{name}]"])
    try:
        probes = [p for p in PROBES if p.name in ("cmdline", "environ", "pid")]
        done = subprocess.run(
            ["sh", "-c", script(name, probes, TOKEN)], capture_output=True, check=True
        )
    finally:
        keepalive.kill()
        keepalive.wait()
    sections = split_sections(done.stdout.decode(), TOKEN)
    assert set(sections) == {"cmdline", "environ", "pid", "end"}
    assert sections["pid"].strip() == str(keepalive.pid)
    assert sections["cmdline"].split("\0")[:-1] == ["sh", "-c", f"sleep 30 # [{name}]"]


def test_the_script_never_carries_the_marker_it_looks_for() -> None:
    assert "# [web-1]" not in script("web-1", list(PROBES), TOKEN)


def test_without_the_process_the_script_says_so_and_has_no_end() -> None:
    text = script("nobody-runs-this", [], TOKEN).replace("-lt 100", "-lt 2")
    done = subprocess.run(["sh", "-c", text], capture_output=True, check=False)
    assert done.returncode == 3
    assert "end" not in split_sections(done.stdout.decode(), TOKEN)


def test_sections_keep_their_bytes_exactly() -> None:
    output = f"\n{TOKEN} environ\nA=1\0B=two\nlines\0\n{TOKEN} hostname\nh\n\n{TOKEN} end\n"
    sections = split_sections(output, TOKEN)
    assert sections == {"environ": "A=1\0B=two\nlines\0", "hostname": "h\n", "end": ""}
    readers = {field.name: field for field in FIELDS}
    assert readers["env"].read(sections["environ"]) == {"A": "1", "B": "two\nlines"}
    assert readers["hostname"].read(sections["hostname"]) == "h"


def test_status_mountinfo_and_cgroup_sections_become_fields() -> None:
    readers = {field.name: field for field in FIELDS}
    status = (
        "Uid:\t0\t0\t0\t0\nCapEff:\t00000000a80425fb\nCapBnd:\t0000000000000021\nNoNewPrivs:\t1\n"
    )
    assert readers["capabilities"].read(status)["CapBnd"] == ["CHOWN", "KILL"]
    assert readers["no_new_privs"].read(status) == {"NoNewPrivs": "1"}
    mountinfo = (
        "3126 3060 0:1152 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b\n"
        "4591 3126 254:0 /var/x/hosts /etc/hosts ro,relatime master:1 - ext4 /dev/vda rw\n"
    )
    assert readers["mounts"].read(mountinfo) == [
        "/ overlay rw,relatime",
        "/etc/hosts ext4 ro,relatime",
    ]
    cgroup = "memory/memory.limit_in_bytes 9223372036854771712\npids/pids.max max\n"
    assert readers["cgroup"].read(cgroup) == {
        "memory/memory.limit_in_bytes": "9223372036854771712",
        "pids/pids.max": "max",
    }


def test_namespace_sharing_names_the_siblings_in_each_namespace() -> None:
    links = [
        {"net": "net:[1]", "pid": "pid:[10]", "uts": "uts:[5]"},
        {"net": "net:[1]", "pid": "pid:[11]", "uts": "uts:[5]"},
        {},  # a container that did not run
    ]
    assert namespace_sharing(links) == [
        {"net": [1], "pid": [], "uts": [1]},
        {"net": [0], "pid": [], "uts": [0]},
        {},
    ]


def test_areas_choose_the_probes_and_name_each_field() -> None:
    assert {p.name for p in probes_for(frozenset({"dns"}))} == {"hostname", "hosts", "resolv"}
    assert "ns" in {p.name for p in probes_for(frozenset({"namespaces"}))}
    assert probes_for(frozenset({"lifecycle", "status"})) == []
    assert choose(None) == ALL
    assert choose("dns,sec*") == {"lifecycle", "dns", "security"}
    assert area_of("container.1.inside.shares", INSIDE_AREAS) == "namespaces"
    assert area_of("container.0.stopped.exit_code", INSIDE_AREAS) == "lifecycle"
    assert area_of("pod.status.network.ip", INSIDE_AREAS) == "status"


def test_an_area_pattern_matching_nothing_is_refused() -> None:
    with pytest.raises(AreaError, match="'dsn' names no area"):
        choose("dsn")
