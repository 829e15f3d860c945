from __future__ import annotations

from pathlib import Path

import pytest

from harness.endpoints import EndpointError, normalize, resolve

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
        "command line",
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
        "environment",
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
