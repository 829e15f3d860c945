"""What a container runs: command and args against the image, environment, working
directory, terminal and stdin, each read back from the container's own output."""

from __future__ import annotations

import pytest
from cri_api.v1 import api_pb2 as api

from harness import streaming
from harness.client import CriClient
from harness.cri_logs import output_lines, wait_for_line, wait_for_output
from harness.factories import Container, ContainerFactory, Pod
from harness.images.catalog import ImageCatalog
from harness.streaming import StreamType, Transport
from harness.waiting import wait_for_exit

# The entrypoint image: ENTRYPOINT ["/bin/echo", "entrypoint"], CMD ["from-image-cmd"],
# WORKDIR /work, ENV IMAGE_ENV=from-image (fixtures/images/entrypoint.toml).
IMAGE_WORKDIR = "/work"


def environment(lines: list[str]) -> dict[str, list[str]]:
    """``env`` output as name -> every value it was given (a name set twice shows twice)."""
    found: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition("=")
        found.setdefault(name, []).append(value)
    return found


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        pytest.param(
            [], [], "entrypoint from-image-cmd",
            marks=pytest.mark.feature("container.command.image-defaults"),
            id="image-entrypoint-and-cmd",
        ),
        pytest.param(
            [], ["a1", "a 2"], "entrypoint a1 a 2",
            marks=pytest.mark.feature("container.command.args-replace-cmd"),
            id="args-replace-cmd",
        ),
        pytest.param(
            ["/bin/echo", "only-command"], [], "only-command",
            marks=pytest.mark.feature("container.command.command-replaces-both"),
            id="command-replaces-entrypoint-and-cmd",
        ),
        pytest.param(
            ["/bin/echo"], ["from", "args"], "from args",
            marks=pytest.mark.feature("container.command.command-and-args"),
            id="command-and-args",
        ),
    ],
)  # fmt: skip
def test_command_and_args_combine_with_the_image_entrypoint_and_cmd(
    cri: CriClient,
    shared_pod: Pod,
    make_container: ContainerFactory,
    images: ImageCatalog,
    command: list[str],
    args: list[str],
    expected: str,
) -> None:
    container = make_container(
        shared_pod, image=images["entrypoint"].ref, command=command, args=args
    )
    assert output_lines(cri, container) == [expected], (
        f"command {command} and args {args} on an image with ENTRYPOINT [/bin/echo entrypoint] "
        f"and CMD [from-image-cmd] must print {expected!r}"
    )


@pytest.mark.feature("container.env")
def test_environment_values_arrive_exactly_as_given(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    given = {
        "PLAIN": "value",
        "SPACES": "  two  spaces  ",
        "EQUALS": "k=v=w",
        "EMPTY": "",
        "QUOTES": "'single' \"double\" $NOT_EXPANDED",
        "UNICODE": "grüße ✓",
    }
    container = make_container(shared_pod, command=["env"], env=given)
    seen = environment(output_lines(cri, container))
    assert {name: seen.get(name) for name in given} == {
        name: [value] for name, value in given.items()
    }


@pytest.mark.feature("container.env.image")
def test_the_image_environment_is_kept_when_not_overridden(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(
        shared_pod, image=images["entrypoint"].ref, command=["env"], env={"FROM_CONFIG": "yes"}
    )
    seen = environment(output_lines(cri, container))
    assert seen.get("IMAGE_ENV") == ["from-image"]
    assert seen.get("PATH") == ["/usr/sbin:/usr/bin:/sbin:/bin"]
    assert seen.get("FROM_CONFIG") == ["yes"]


@pytest.mark.feature("container.env.override")
def test_a_config_variable_overrides_the_image_variable_of_the_same_name(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(
        shared_pod,
        image=images["entrypoint"].ref,
        command=["env"],
        env={"IMAGE_ENV": "from-config"},
    )
    assert environment(output_lines(cri, container)).get("IMAGE_ENV") == ["from-config"]


@pytest.mark.feature("container.workdir.image")
def test_the_image_working_directory_is_the_default(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(shared_pod, image=images["entrypoint"].ref, command=["pwd"])
    assert output_lines(cri, container) == [IMAGE_WORKDIR]


@pytest.mark.feature("container.workdir.override")
def test_working_dir_overrides_the_image_working_directory(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, images: ImageCatalog
) -> None:
    container = make_container(
        shared_pod, image=images["entrypoint"].ref, command=["pwd"], working_dir="/tmp"
    )
    assert output_lines(cri, container) == ["/tmp"]


TERMINAL_PROBE = (
    "test -t 0 && echo stdin-is-a-terminal; test -t 1 && echo stdout-is-a-terminal; "
    "echo on-stderr >&2; tty"
)


@pytest.mark.feature("container.tty")
def test_a_container_with_tty_runs_on_a_terminal(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=["sh", "-c", TERMINAL_PROBE], tty=True)
    lines = output_lines(cri, container)
    assert lines[:3] == ["stdin-is-a-terminal", "stdout-is-a-terminal", "on-stderr"], (
        f"with tty=true, stdin and stdout must be a terminal carrying stderr too; got {lines}"
    )
    assert lines[3].startswith("/dev/pts/"), f"`tty` printed {lines[3]!r}, not a pty"


@pytest.mark.feature("container.tty.off")
def test_a_container_without_tty_has_no_terminal(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory
) -> None:
    container = make_container(shared_pod, command=["sh", "-c", TERMINAL_PROBE])
    assert output_lines(cri, container) == ["not a tty"]
    assert output_lines(cri, container, stream="stderr") == ["on-stderr"]


@pytest.mark.parametrize(
    ("stdin", "stdin_once", "expected"),
    [
        pytest.param(
            True, True, "pipe:",
            marks=pytest.mark.feature("container.stdin.open"), id="stdin-once",
        ),
        pytest.param(
            True, False, "pipe:",
            marks=pytest.mark.feature("container.stdin.open"), id="stdin",
        ),
        pytest.param(
            False, False, "/dev/null",
            marks=pytest.mark.feature("container.stdin.closed"), id="no-stdin",
        ),
    ],
)  # fmt: skip
def test_stdin_is_a_pipe_only_when_asked_for(
    shared_pod: Pod,
    make_container: ContainerFactory,
    stdin: bool,
    stdin_once: bool,
    expected: str,
) -> None:
    container = make_container(
        shared_pod,
        command=["sh", "-c", "readlink /proc/self/fd/0; exec sleep 3600"],
        stdin=stdin,
        stdin_once=stdin_once,
    )
    [fd0] = wait_for_output(container, 1)
    assert fd0.startswith(expected), (
        f"with stdin={stdin} stdin_once={stdin_once}, fd 0 is {fd0!r}; expected {expected}"
    )


CAT_UNTIL_EOF = ["sh", "-c", "cat; echo stdin-closed"]


def attach_and_send(cri: CriClient, container: Container, line: bytes) -> None:
    """One attach session (SPDY, the kubelet's): send ``line``, see ``cat`` echo it, then end
    the session's stdin and detach."""
    request = api.AttachRequest(container_id=container.id, stdin=True, stdout=True)
    with streaming.start_attach(cri, request, Transport.SPDY) as session:
        session.write_stdin(line)
        session.output(StreamType.STDOUT).wait_for(line, timeout=10)
        session.close_stdin()


@pytest.mark.parametrize(
    "stdin_once", [pytest.param(True, id="stdin-once"), pytest.param(False, id="stdin")]
)
@pytest.mark.feature("container.stdin.open")
def test_stdin_once_closes_stdin_when_the_first_attach_ends(
    cri: CriClient, shared_pod: Pod, make_container: ContainerFactory, stdin_once: bool
) -> None:
    # api.proto ContainerConfig.stdin and stdin_once ("Variables for interactive containers"),
    # with the kubelet's meaning (core/v1 Container.stdinOnce): with stdin_once, stdin is closed
    # after the first attach session ends, and stays closed; without it, it stays open and a
    # later attach still reaches the container.
    container = make_container(shared_pod, command=CAT_UNTIL_EOF, stdin=True, stdin_once=stdin_once)
    attach_and_send(cri, container, b"first\n")
    if stdin_once:
        assert wait_for_exit(cri, container.id).exit_code == 0, "cat did not end at EOF"
        assert output_lines(cri, container) == ["first", "stdin-closed"]
        return
    attach_and_send(cri, container, b"second\n")
    lines = wait_for_line(container, "second")
    assert "stdin-closed" not in lines, f"stdin was closed after the first attach: {lines}"
    assert cri.container_status(container.id).status.state == api.CONTAINER_RUNNING
