"""The pytest side of the matrix: one cell per feature per run, and the reports of a suite run.

Every process that runs tests judges each phase of a feature-marked test (``outcomes.judge``)
and puts its judgement on the report. The controller (the only process without pytest-xdist)
gathers the judgements from the reports it receives, so a run under ``-n N`` records the same
cells as a serial one, and at the end writes ``matrix.{json,md,html}`` into ``--cri-report-dir``.
It records only in conformance sessions (``harness/pytest_plugin/activation.py``).

A suite run (a folder whose conftest.py sets ``CRI_CONFORMANCE_SUITE = True``, as
``suites/conftest.py`` does) also writes JUnit XML and Allure results there, unless
``--junitxml`` / ``--alluredir`` say otherwise. ``pytest tests/`` writes none of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from harness.features import registry
from harness.matrix.cells import Cell, Outcome, State, cell_of, worst
from harness.matrix.document import FeatureRow, Matrix, RuntimeRun, now_iso, ordered
from harness.matrix.outcomes import judge, rewrite, teststatus
from harness.matrix.outputs import write_reports
from harness.matrix.profiles import Profile
from harness.pytest_plugin.activation import is_active, is_suite_run
from harness.pytest_plugin.options import value
from harness.pytest_plugin.stash_keys import PHASE_OUTCOMES_KEY, PROFILE_KEY, SETTINGS_KEY

JUDGEMENT = "cri_conformance"  # the report attribute carrying a phase's outcome to the controller
PLUGIN_NAME = "cri-conformance-matrix"
JUNIT_FILE = "junit.xml"
ALLURE_DIR = "allure-results"
# The allure-pytest marker its labels live in (allure_pytest.utils.ALLURE_LABEL_MARK).
ALLURE_LABEL_MARK = "allure_label"
ALLURE_PLUGIN = "allure_pytest"  # its pytest11 entry point
_DELETING_KEY = pytest.StashKey[threading.Thread]()


@pytest.hookimpl(tryfirst=True)  # before junitxml and allure-pytest read their options
def pytest_configure(config: pytest.Config) -> None:
    if not is_active(config):
        return
    if is_suite_run(config):
        _default_report_outputs(config)
    start_recording(config)


def start_recording(config: pytest.Config, items: list[pytest.Item] | None = None) -> None:
    """Record this session's cells; ``items`` when it starts after collection (they are
    labelled here, the recorder's own collection hook having been missed)."""
    recorder = MatrixRecorder(config)
    config.pluginmanager.register(recorder, PLUGIN_NAME)
    if items is not None:
        recorder.pytest_collection_modifyitems(items)


def _default_report_outputs(config: pytest.Config) -> None:
    """JUnit XML and Allure results into the report dir, when the user chose no other place."""
    report_dir = Path(value(config, "cri_report_dir"))
    if not config.option.xmlpath:
        config.option.xmlpath = str(report_dir / JUNIT_FILE)
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        allure_dir = report_dir / ALLURE_DIR
        if not hasattr(config, "workerinput"):  # results of an earlier run would mix in
            config.stash[_DELETING_KEY] = _delete_aside(allure_dir)
        config.option.allure_report_dir = str(allure_dir)


def _delete_aside(folder: Path) -> threading.Thread:
    """Move ``folder`` out of the way at once and delete it in a thread, with whatever an
    earlier run that was killed left aside: a run's Allure results are some 1,400 files, and
    deleting them before the first test could start kept the whole run waiting on the disk
    for seconds (3.7 s on this machine under load)."""
    aside = folder.with_name(f".{folder.name}.deleting-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        folder.rename(aside)
    stale = sorted(folder.parent.glob(f".{folder.name}.deleting-*"))

    def delete() -> None:
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)

    thread = threading.Thread(target=delete, name="cri-delete-old-results", daemon=True)
    thread.start()
    return thread


def pytest_unconfigure(config: pytest.Config) -> None:
    """The old results are gone when the run ends."""
    deleting = config.stash.get(_DELETING_KEY, None)
    if deleting is not None:
        deleting.join()


def feature_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("feature")
    if marker is None or len(marker.args) != 1 or not isinstance(marker.args[0], str):
        return None
    return marker.args[0]


class MatrixRecorder:
    """Judges phases where tests run; gathers judgements and writes the matrix on the controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = now_iso()
        self.clock = time.monotonic()
        self.tests: dict[str, dict[str, Outcome]] = {}  # feature -> test nodeid -> worst outcome
        self.matrix: Matrix | None = None
        self.written: list[Path] = []

    @property
    def profile(self) -> Profile | None:
        return self.config.stash.get(PROFILE_KEY, None)

    @property
    def is_controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    # -- where tests run ----------------------------------------------------------------

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Allure labels: feature = area, story = feature id, tag = shape (with allure-pytest,
        the ``allure`` extra, installed)."""
        if not self.config.pluginmanager.hasplugin(ALLURE_PLUGIN):
            return
        features = registry()
        label = getattr(pytest.mark, ALLURE_LABEL_MARK)
        for item in items:
            feature = features.get(feature_of(item) or "")
            if feature is None:
                continue
            item.add_marker(label(feature.area, label_type="feature"))
            item.add_marker(label(feature.id, label_type="story"))
            item.add_marker(label(feature.shape, label_type="tag"))

    # Registered after pytest's skipping plugin and before allure's listener, so this wrapper
    # sees the report after the xfail handling, and allure sees it after this one.
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        feature = feature_of(item)
        if feature is None:
            return report
        error = call.excinfo.value if call.excinfo else None
        outcome = judge(report, error, self.profile, registry()[feature])
        if outcome is not None:
            rewrite(report, outcome, value(self.config, "cri_strict_profile"))
            setattr(report, JUDGEMENT, {"feature": feature, **_judgement(outcome)})
            item.stash[PHASE_OUTCOMES_KEY] = [*item.stash.get(PHASE_OUTCOMES_KEY, []), outcome]
        phases = item.stash.get(PHASE_OUTCOMES_KEY, [])
        if call.when == "teardown" and phases:
            cell = worst(phases)
            report.user_properties.append(("cri-conformance.feature", feature))
            report.user_properties.append(("cri-conformance.cell", cell.state.value))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        judgement = getattr(report, JUDGEMENT, None)
        return teststatus(report, State(judgement["state"])) if judgement else None

    # -- on the controller --------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        judgement = getattr(report, JUDGEMENT, None)
        if not judgement or not self.is_controller:
            return
        outcome = Outcome(
            State(judgement["state"]),
            judgement["reason"],
            judgement["failure"],
            judgement["intermittent"],
        )
        tests = self.tests.setdefault(judgement["feature"], {})
        earlier = tests.get(report.nodeid)
        tests[report.nodeid] = worst([earlier, outcome]) if earlier else outcome

    def cells(self) -> dict[str, Cell]:
        return {feature: cell_of(tests) for feature, tests in self.tests.items()}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.is_controller or not self.tests:
            return
        self.matrix = self._matrix(self._runtime_run())
        self.written = write_reports(self.matrix, Path(value(self.config, "cri_report_dir")))
        conformant = self.matrix.verdict(self.matrix.runtimes[0].name).conformant
        required = value(self.config, "cri_require_conformant")
        if required and not conformant and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.matrix is None:
            return
        run = self.matrix.runtimes[0]
        verdict = self.matrix.verdict(run.name)
        for line in verdict.lines():
            terminalreporter.write_line(f"cri-conformance verdict ({run.name}): {line}", bold=True)
        if value(self.config, "cri_require_conformant") and not verdict.conformant:
            terminalreporter.write_line(
                "cri-conformance: --cri-require-conformant: the runtime is not conformant to the "
                "required set (see the deviations, failures and gaps above)",
                red=True,
            )
        totals = self.matrix.totals(run.name)
        counts = ", ".join(f"{count} {state.value}" for state, count in totals.items() if count)
        terminalreporter.write_line(f"cri-conformance matrix ({run.name}): {counts}")
        for row in self.matrix.features:
            cell = row.cells[run.name]
            if cell.state is State.XPASS:
                terminalreporter.write_line(
                    f"XPASS {row.id}: {cell.reason}; update the runtime profile", yellow=True
                )
        if self.written:
            terminalreporter.write_line(f"cri-conformance matrix written to {self.written[0]}")

    def _runtime_run(self) -> RuntimeRun:
        settings = self.config.stash[SETTINGS_KEY]
        record = (
            json.loads(settings.endpoints_record.read_text())
            if settings.endpoints_record.exists()
            else {}
        )
        version = record.get("version", {})
        profile = self.profile
        return RuntimeRun(
            name=value(self.config, "cri_runtime_name") or version.get("runtime_name") or "runtime",
            endpoint=record.get("runtime"),
            endpoint_source=record.get("source"),
            runtime_name=version.get("runtime_name"),
            runtime_version=version.get("runtime_version"),
            api_version=version.get("runtime_api_version"),
            profile=profile.name if profile else None,
            started=self.started,
            duration_s=round(time.monotonic() - self.clock, 3),
            run_id=settings.run_id,
            strict_profile=bool(value(self.config, "cri_strict_profile")),
        )

    def _matrix(self, run: RuntimeRun) -> Matrix:
        cells = self.cells()
        rows = [
            FeatureRow(
                feature.id,
                feature.area,
                feature.shape,
                feature.title,
                feature.level,
                feature.one_of,
                {run.name: cell},
            )
            for feature in registry().values()
            if (cell := cells.get(feature.id)) is not None
        ]
        return Matrix([run], ordered(rows))


def _judgement(outcome: Outcome) -> dict[str, str | bool]:
    return {
        "state": outcome.state.value,
        "reason": outcome.reason,
        "failure": outcome.failure,
        "intermittent": outcome.intermittent,
    }
