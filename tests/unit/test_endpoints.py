from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.endpoints import (
    FROM_ENV,
    FROM_FLAG,
    FROM_INI,
    EndpointError,
    Endpoints,
    check_sockets,
    normalize,
    resolve,
    sockets_in_usual_places,
)

NO_CRICTL = Path("/nonexistent/crictl.yaml")


@pytest.mark.parametrize(
    "given",
    ["unix:///run/x.sock", "unix:/run/x.sock", "/run/x.sock", "  unix:///run/x.sock "],
)
def test_every_accepted_form_normalizes_to_unix_triple_slash(given: str) -> None:
    assert normalize(given) == "unix:///run/x.sock"


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("", "empty"),
        ("tcp://127.0.0.1:1234", "scheme 'tcp'"),
        ("run/x.sock", "absolute"),
        ("unix://run/x.sock", "absolute"),
    ],
)
def test_unusable_endpoints_are_refused_with_a_reason(given: str, complaint: str) -> None:
    with pytest.raises(EndpointError, match=complaint):
        normalize(given)


def test_the_flag_wins_over_the_environment_and_crictl(tmp_path: Path) -> None:
    crictl = tmp_path / "crictl.yaml"
    crictl.write_text("runtime-endpoint: unix:///crictl.sock\n")
    env = {"CONTAINER_RUNTIME_ENDPOINT": "unix:///env.sock"}
    found = resolve("/flag.sock", None, env, crictl)
    assert found is not None
    assert (found.runtime, found.image, found.source) == (
        "unix:///flag.sock",
        "unix:///flag.sock",
        FROM_FLAG,
    )


def test_the_environment_wins_over_crictl(tmp_path: Path) -> None:
    crictl = tmp_path / "crictl.yaml"
    crictl.write_text("runtime-endpoint: unix:///crictl.sock\n")
    env = {"CONTAINER_RUNTIME_ENDPOINT": "unix:///env.sock", "IMAGE_SERVICE_ENDPOINT": "/img.sock"}
    found = resolve(None, None, env, crictl)
    assert found is not None
    assert (found.runtime, found.image, found.source) == (
        "unix:///env.sock",
        "unix:///img.sock",
        FROM_ENV,
    )


def test_crictl_config_is_read_when_nothing_else_names_an_endpoint(tmp_path: Path) -> None:
    crictl = tmp_path / "crictl.yaml"
    crictl.write_text(
        "runtime-endpoint: unix:///crictl.sock\nimage-endpoint: unix:///images.sock\ntimeout: 2\n"
    )
    found = resolve(None, None, {}, crictl)
    assert found is not None
    assert (found.runtime, found.image) == ("unix:///crictl.sock", "unix:///images.sock")
    assert found.source == str(crictl)


def test_an_image_flag_alone_keeps_the_runtime_from_the_environment() -> None:
    env = {"CONTAINER_RUNTIME_ENDPOINT": "/env.sock"}
    found = resolve(None, "/img.sock", env, NO_CRICTL)
    assert found is not None
    assert (found.runtime, found.image) == ("unix:///env.sock", "unix:///img.sock")


def test_nothing_named_means_none_so_the_caller_can_embed_a_runtime() -> None:
    assert resolve(None, None, {}, NO_CRICTL) is None


def test_an_image_endpoint_without_a_runtime_endpoint_is_an_error() -> None:
    with pytest.raises(EndpointError, match="--cri-endpoint"):
        resolve(None, "/img.sock", {}, NO_CRICTL)


def test_a_broken_crictl_file_is_named_in_the_error(tmp_path: Path) -> None:
    crictl = tmp_path / "crictl.yaml"
    crictl.write_text("runtime-endpoint: [unclosed\n")
    with pytest.raises(EndpointError, match=r"crictl\.yaml"):
        resolve(None, None, {}, crictl)


def test_crictl_config_file_variable_replaces_etc_crictl_yaml(tmp_path: Path) -> None:
    """As crictl: $CRI_CONFIG_FILE names the config file to read instead of /etc/crictl.yaml."""
    config = tmp_path / "elsewhere.yaml"
    config.write_text("runtime-endpoint: unix:///from-variable.sock\n")
    found = resolve(None, None, {"CRI_CONFIG_FILE": str(config)})
    assert found is not None
    assert found.runtime == "unix:///from-variable.sock"
    assert found.source == f"CRI_CONFIG_FILE ({config})"


def test_the_ini_setting_sits_between_the_environment_and_crictl(tmp_path: Path) -> None:
    crictl = tmp_path / "crictl.yaml"
    crictl.write_text("runtime-endpoint: unix:///crictl.sock\n")
    from_ini = resolve(None, None, {}, crictl, configured=("/ini.sock", None))
    assert from_ini is not None
    assert (from_ini.runtime, from_ini.source) == ("unix:///ini.sock", FROM_INI)
    env = {"CONTAINER_RUNTIME_ENDPOINT": "/env.sock"}
    from_env = resolve(None, None, env, crictl, configured=("/ini.sock", None))
    assert from_env is not None
    assert from_env.source == FROM_ENV


def test_a_missing_socket_fails_at_once_naming_where_it_came_from(tmp_path: Path) -> None:
    missing = Endpoints(f"unix://{tmp_path}/none.sock", f"unix://{tmp_path}/none.sock", FROM_FLAG)
    with pytest.raises(EndpointError, match=r"none\.sock \(from command line .*no such file"):
        check_sockets(missing)
    (tmp_path / "file").write_text("")
    not_a_socket = Endpoints(f"unix://{tmp_path}/file", f"unix://{tmp_path}/file", FROM_ENV)
    with pytest.raises(EndpointError, match="not a socket"):
        check_sockets(not_a_socket)


def test_sockets_in_their_usual_places_are_found(tmp_path: Path) -> None:
    path = tmp_path / "containerd.sock"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        found = sockets_in_usual_places((path, tmp_path / "crio.sock", tmp_path))
        check_sockets(Endpoints(f"unix://{path}", f"unix://{path}", FROM_FLAG))
    assert found == [f"unix://{path}"]
