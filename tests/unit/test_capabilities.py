"""Capability masks as /proc/<pid>/status prints them, decoded to CRI names."""

from __future__ import annotations

from harness.cgroups import shares_to_weight
from linux_capabilities import CAPABILITIES, decode_caps


def test_the_docker_default_set_decodes_to_its_fourteen_names() -> None:
    assert decode_caps("00000000a80425fb") == {
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP",
    }  # fmt: skip


def test_an_empty_mask_is_no_capability_and_a_full_one_is_all_known_plus_unknown_bits() -> None:
    assert decode_caps("0000000000000000") == set()
    full = decode_caps(format((1 << (len(CAPABILITIES) + 1)) - 1, "x"))
    assert full == {*CAPABILITIES, f"BIT_{len(CAPABILITIES)}"}


def test_cpu_shares_map_to_cgroup_v2_weights_as_the_oci_runtimes_do() -> None:
    assert [shares_to_weight(shares) for shares in (2, 1024, 262144)] == [1, 39, 10000]
