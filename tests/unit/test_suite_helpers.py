"""The small parsers and guards behind the pod and image suites."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cri_api.v1 import api_pb2 as api

from harness.image_store import make_absent
from harness.images.builder import BuiltImage
from harness.images.catalog import TestImage
from harness.images.recipes import load_recipes
from harness.network import free_loopback_port, http_url
from harness.probes import (
    PROCESS_ARGS,
    outputs_in,
    parse_environment,
    parse_ipv4_addresses,
    parse_listening_ports,
    parse_process_args,
    parse_resolv_conf,
    parse_upperdir,
)

RESOLV_CONF = """\
# written by the runtime
search one.example two.example
nameserver 10.0.0.1
nameserver 10.0.0.2
options ndots:5 timeout:2
"""

IP_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.231.0.7/16 brd 10.231.255.255 scope global eth0\\       valid_lft forever
"""


def test_resolv_conf_keeps_repeated_keywords_in_order_and_skips_comments() -> None:
    assert parse_resolv_conf(RESOLV_CONF) == {
        "search": ["one.example", "two.example"],
        "nameserver": ["10.0.0.1", "10.0.0.2"],
        "options": ["ndots:5", "timeout:2"],
    }


OVERLAY = "rw,lowerdir=/l/1:/l/2,upperdir=/var/a\\040b/diff,workdir=/var/a\\040b/work"
MOUNTINFO = f"""\
21 1 0:19 / / rw,relatime - ext4 /dev/vda1 rw
612 540 0:52 / / rw,relatime master:1 - overlay overlay {OVERLAY}
613 612 0:54 / /proc rw,nosuid - proc proc rw
"""


def test_the_writable_layer_is_the_upperdir_of_the_last_root_mount_unescaped() -> None:
    assert parse_upperdir(MOUNTINFO) == "/var/a b/diff"
    assert parse_upperdir(MOUNTINFO.splitlines()[0]) is None, "an ext4 root has no upperdir"


def test_ipv4_addresses_drop_the_prefix_length() -> None:
    assert parse_ipv4_addresses(IP_ADDR) == {"127.0.0.1", "10.231.0.7"}


def test_listening_ports_come_from_tcp_lines_of_either_family() -> None:
    # busybox netstat -ltn in the webserver image, plus an IPv4 listener
    text = (
        "Active Internet connections (only servers)\n"
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State       \n"
        "tcp        0      0 :::80                   :::*                    LISTEN      \n"
        "tcp        0      0 0.0.0.0:7001            0.0.0.0:*               LISTEN      \n"
    )
    assert parse_listening_ports(text) == {80, 7001}


def test_http_url_brackets_ipv6_only() -> None:
    assert http_url("127.0.0.1", 8080) == "http://127.0.0.1:8080/"
    assert http_url("fd00::7", 80, "/x") == "http://[fd00::7]:80/x"


def test_a_free_loopback_port_can_be_bound() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", free_loopback_port()))


@pytest.mark.parametrize("name", ["busybox", "webserver", "nonroot", "pause"])
def test_shared_images_are_never_made_absent(name: str) -> None:
    built = BuiltImage(load_recipes()[name], Path("unbuilt"), "sha256:m", {"amd64": "sha256:c"})
    image = TestImage(built, "registry.invalid")
    untouched: Any = None  # refused before any call reaches a client
    with pytest.raises(ValueError, match="shared"):
        make_absent(untouched, untouched, image)


class LocalShell:
    """ExecSync answered by running the command on this machine."""

    def __init__(self) -> None:
        self.calls = 0

    def exec_sync(
        self, container_id: str, cmd: list[str], timeout: int = 0
    ) -> api.ExecSyncResponse:
        self.calls += 1
        done = subprocess.run(cmd, capture_output=True, timeout=timeout or None, check=False)
        return api.ExecSyncResponse(
            stdout=done.stdout, stderr=done.stderr, exit_code=done.returncode
        )


def test_outputs_come_back_per_command_from_one_exec_even_when_ps_shows_the_script() -> None:
    shell = LocalShell()
    printed = ("printf", "%s", "no newline; $HOME 'quoted'")
    outputs = outputs_in(shell, "c", ("echo", "one"), printed, ("true",), PROCESS_ARGS)  # type: ignore[arg-type]  # a fake CriClient
    assert shell.calls == 1
    assert outputs[:3] == [b"one\n", b"no newline; $HOME 'quoted'", b""]
    assert any("ps -o args" in line for line in parse_process_args(outputs[3].decode()))


def test_a_failing_command_names_itself_and_stops_the_rest() -> None:
    shell = LocalShell()
    with pytest.raises(AssertionError, match=r"ExecSync \['false'\] exited 1"):
        outputs_in(shell, "c", ("echo", "one"), ("false",), ("echo", "never"))  # type: ignore[arg-type]  # a fake CriClient


def test_an_environ_file_splits_on_nul_and_keeps_newlines_in_values() -> None:
    environ = b"PATH=/bin\0MULTI=a\nb\0EMPTY=\0"
    assert parse_environment(environ) == {"PATH": "/bin", "MULTI": "a\nb", "EMPTY": ""}
