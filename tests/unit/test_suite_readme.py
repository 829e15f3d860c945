"""suites/README.md's tables are generated: current, complete, replaced only between markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.features import registry, suite_modules
from harness.package_data import suites_dir
from harness.suite_readme import BEGIN, END, SuiteReadmeError, collect, render, update

README = Path(__file__).resolve().parents[2] / "suites" / "README.md"


@pytest.fixture(scope="module")
def collected() -> list[tuple[str, str | None]]:
    return collect(suites_dir())


def test_the_suites_readme_is_current(collected: list[tuple[str, str | None]]) -> None:
    text = README.read_text()
    assert text == update(text, render(collected)), (
        "suites/README.md is stale: run cri-conformance suites-readme --write suites/README.md"
    )


def test_every_case_is_counted_under_its_module_and_feature(
    collected: list[tuple[str, str | None]],
) -> None:
    modules = {module for module, _ in collected}
    assert modules == {module.name for module in suite_modules()}
    assert all(feature in registry() for _, feature in collected), "every case has a feature"
    table = render(collected)
    lifecycle = sum(1 for module, _ in collected if module == "test_container_lifecycle.py")
    assert f"| `test_container_lifecycle.py` | {lifecycle} |" in table
    assert f"{len(collected)} cases in {len(modules)} modules" in table


def test_a_module_nobody_described_or_a_described_module_gone_is_named(
    collected: list[tuple[str, str | None]],
) -> None:
    with pytest.raises(SuiteReadmeError, match=r"test_new\.py: say what it covers"):
        render([*collected, ("test_new.py", "pod.lifecycle")])
    without = [case for case in collected if case[0] != "test_pod_list.py"]
    with pytest.raises(SuiteReadmeError, match=r"test_pod_list\.py: described"):
        render(without)


def test_a_feature_shows_its_citations_or_else_its_basis(
    collected: list[tuple[str, str | None]],
) -> None:
    lines = render(collected).splitlines()
    lifecycle = next(line for line in lines if line.startswith("| `pod.lifecycle` |"))
    assert "api.proto:28-29: RunPodSandbox creates and starts a pod-level sandbox." in lifecycle
    prefix = next(line for line in lines if line.startswith("| `pod.list.filter-id-prefix` |"))
    assert "*basis:* Matching a unique id prefix is crictl's convenience" in prefix
    logs = next(line for line in lines if line.startswith("| `container.logs.format` |"))
    assert "&lt;stdout\\|stderr>" in logs, "pipes and tags are escaped inside a cell"


def test_only_the_text_between_the_markers_is_replaced() -> None:
    readme = f"# Title\n\nprose\n\n{BEGIN}\nold table\n{END}\n\nmore prose\n"
    replaced = update(readme, f"{BEGIN}\nnew\n{END}")
    assert replaced == f"# Title\n\nprose\n\n{BEGIN}\nnew\n{END}\n\nmore prose\n"
    with pytest.raises(SuiteReadmeError, match="marker lines"):
        update("# no markers\n", "new")


def test_check_fails_on_a_stale_readme_and_write_mends_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    collected: list[tuple[str, str | None]],
) -> None:
    monkeypatch.setattr("harness.suite_readme.collect", lambda suites: collected)
    stale = tmp_path / "README.md"
    stale.write_text(f"# Suites\n\n{BEGIN}\n| area | module | cases |\n{END}\n")
    assert main(["suites-readme", "--check", str(stale)]) == 1
    assert "is stale: run cri-conformance suites-readme --write" in capsys.readouterr().err
    assert main(["suites-readme", "--write", str(stale)]) == 0
    assert main(["suites-readme", "--check", str(stale)]) == 0
    assert stale.read_text().startswith(f"# Suites\n\n{BEGIN}\n")
