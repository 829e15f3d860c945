"""A registry the runtime cannot pull from stops the run with one error, before any test."""

from __future__ import annotations

import pytest

from harness.network import free_loopback_port

NEEDS_IMAGES = """
import pytest

@pytest.mark.feature("container.lifecycle")
@pytest.mark.parametrize("n", range(3))
def test_needs_an_image(make_pod, make_container, n):
    make_container(make_pod())
"""


def run(pytester: pytest.Pytester, endpoint: str, registry: str) -> tuple[int, str]:
    pytester.makepyfile(test_images=NEEDS_IMAGES)
    result = pytester.runpytest_subprocess(
        "--cri-endpoint", endpoint, "--cri-image-registry", registry, "-p", "no:cacheprovider"
    )
    return result.ret, result.stdout.str() + result.stderr.str()


def test_a_registry_nothing_listens_on_is_one_error_naming_it(
    pytester: pytest.Pytester, containerd_endpoint: str
) -> None:
    registry = f"127.0.0.1:{free_loopback_port()}"
    code, output = run(pytester, containerd_endpoint, registry)
    assert code == pytest.ExitCode.USAGE_ERROR, output
    assert output.count("cannot pull the test image") == 1, output
    assert f"{registry}/cri-conformance/busybox:1.0" in output
    assert "connection refused" in output.lower(), "the runtime's answer is missing"
    assert f"Nothing answers at http://{registry}/v2/" in output
    assert "images push --to" in output
    assert "FAILED" not in output
    assert " passed" not in output
    assert "Traceback" not in output


def test_a_registry_without_the_images_names_containerds_plain_http_fix(
    pytester: pytest.Pytester, containerd_endpoint: str, private_registry: str
) -> None:
    code, output = run(pytester, containerd_endpoint, private_registry)
    assert code == pytest.ExitCode.USAGE_ERROR, output
    assert output.count("cannot pull the test image") == 1, output
    assert "NOT_FOUND" in output, "the runtime's answer is missing"
    assert f'registry.mirrors."{private_registry}"' in output
    assert f"certs.d/{private_registry}/hosts.toml" in output
    assert "FAILED" not in output
