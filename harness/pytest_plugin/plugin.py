"""The pytest plugin: options, the ``feature`` marker, fixtures, and the run's bookkeeping.

Loaded through the ``pytest11`` entry point in every session of the environment, it acts only
in sessions that run the conformance suite, name a ``--cri-*`` option, or ask for a CRI
fixture (``activation``); every other session runs as if it were not installed.
Nothing talks to a runtime until a test asks for a CRI fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2 as api

from harness import run_folder
from harness.client import CriClient, CriError
from harness.embedded import EmbeddedShim
from harness.endpoints import EndpointError
from harness.factories import ContainerFactory, PodFactory, RunContext
from harness.features import FeatureRegistryError, registry
from harness.image_store import make_absent
from harness.images.builder import BuildError
from harness.images.catalog import ImageCatalog, TestImage
from harness.images.preflight import PreflightFailed
from harness.images.registry import RegistryError
from harness.matrix.profiles import Profile, ProfileError, check_runtime, load_profile
from harness.ownership import new_run_id
from harness.pytest_plugin import activation
from harness.pytest_plugin.container_fixtures import (  # noqa: F401  (fixtures, registered by import)
    host_tree_with_submount,
    make_cgroup_pod,
    shared_host_dir,
)
from harness.pytest_plugin.options import add_old_names, add_options, value, warn_about_old_names
from harness.pytest_plugin.run_description import closing_line, header_lines
from harness.pytest_plugin.selection import Selection, SelectionError, split_items
from harness.pytest_plugin.session import CriSession, Settings, finish_run, given_endpoints
from harness.pytest_plugin.shared_objects import (  # noqa: F401  (fixtures, registered by import)
    run_context_for,
    shared_container,
    shared_pod,
)
from harness.pytest_plugin.stash_keys import (
    NOT_RUN_KEY,
    PROFILE_KEY,
    SESSION_KEY,
    SETTINGS_KEY,
    SETUP_ERROR_KEY,
    SWEEP_KEY,
)
from harness.pytest_plugin.sweep_report import SweepReport
from harness.removal_queue import RemovalQueue
from harness.resources import ResourceTracker

# The matrix recorder: cells, report outcomes, matrix/JUnit/Allure outputs.
pytest_plugins = ["harness.matrix.recorder"]

SETUP_ERRORS = (EndpointError, CriError, RegistryError, BuildError, ProfileError, PreflightFailed)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    """The old option names, once the initial conftests had their say (options.py)."""
    yield
    add_old_names(early_config, parser, args)


@pytest.hookimpl(trylast=True)  # after pytest's tmp_path plugin has set up basetemp
def pytest_configure(config: pytest.Config) -> None:
    # Declared in every session: test modules use it at import, before a late switch-on.
    config.addinivalue_line(
        "markers",
        'feature(id, shape="single"): the behaviour this test checks, one matrix row '
        "(shape: single or multi container pods)",
    )
    warn_about_old_names(config)
    if activation.is_active(config):
        _set_up(config)


def _set_up(config: pytest.Config) -> None:
    worker_input = getattr(config, "workerinput", None)
    run_id = worker_input["cri_run_id"] if worker_input else new_run_id()
    config.stash[SETTINGS_KEY] = Settings(
        run_id=run_id,
        shared_dir=_shared_dir(config),
        runtime_flag=config.option.cri_endpoint,
        image_flag=config.option.cri_image_endpoint,
        configured=(config.getini("cri_endpoint"), config.getini("cri_image_endpoint")),
        timeout=value(config, "cri_timeout"),
        image_registry=value(config, "cri_image_registry"),
        runtime_handler=value(config, "cri_runtime_handler"),
        shim=EmbeddedShim(value(config, "cri_shim_strategy"), value(config, "cri_shim_backend")),
    )
    if _tests_embedded_shim(config.stash[SETTINGS_KEY]):
        _default_to_the_shims_profile_and_name(config, config.stash[SETTINGS_KEY].shim)
    config.stash[PROFILE_KEY] = _load_profile(config)


def _tests_embedded_shim(settings: Settings) -> bool:
    try:
        return given_endpoints(settings) is None
    except EndpointError:
        return False  # the error surfaces, in one line, when a test first connects


def _default_to_the_shims_profile_and_name(config: pytest.Config, shim: EmbeddedShim) -> None:
    """The shim declares its own limits: use its profile and column unless told otherwise."""
    if not value(config, "cri_runtime_profile"):
        config.option.cri_runtime_profile = shim.profile_name
    if not value(config, "cri_runtime_name"):
        config.option.cri_runtime_name = shim.column_name


def _load_profile(config: pytest.Config) -> Profile | None:
    spec = value(config, "cri_runtime_profile")
    if not spec:
        return None
    try:
        return load_profile(spec)
    except ProfileError as error:
        raise pytest.UsageError(f"cri-conformance: {error}") from None


def _shared_dir(config: pytest.Config) -> Path:
    """A folder every process of the run sees: the controller makes it (``run_folder``)."""
    worker_input = getattr(config, "workerinput", None)
    return Path(worker_input["cri_shared_dir"]) if worker_input else run_folder.make()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist: every worker joins the controller's run id."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    if SETTINGS_KEY in config.stash:
        node.workerinput["cri_run_id"] = config.stash[SETTINGS_KEY].run_id  # type: ignore[attr-defined]
        node.workerinput["cri_shared_dir"] = str(config.stash[SETTINGS_KEY].shared_dir)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if activation.needs_switching_on(config, items) and not hasattr(config, "workerinput"):
        # Imported here: pytest imports the recorder as a plugin (pytest_plugins above), to
        # rewrite its asserts, and warns about a module someone imported before.
        from harness.matrix.recorder import start_recording

        activation.switch_on_late(config)
        _set_up(config)
        start_recording(config, items)
    if not activation.is_active(config):
        return
    problems = [
        problem
        for item in items
        for marker in item.iter_markers("feature")
        if (problem := _feature_marker_problem(item, marker))
    ]
    if problems:
        _stop_before_running(config, items, "\n".join(problems))
        return
    selection = Selection.parse(value(config, "cri_feature"), value(config, "cri_area"))
    if selection:
        try:
            kept, dropped = split_items(items, selection.chosen(registry()))
        except SelectionError as error:
            _stop_before_running(config, items, f"cri-conformance: {error}")
            return
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    _leave_out_what_crashes_the_runtime(config, items)
    if config.option.collectonly or not _needs_runtime(items):
        return
    try:
        session = _connect(config)
        profile = config.stash[PROFILE_KEY]
        if profile is not None:
            check_runtime(profile, session.version, session.client.endpoints.runtime)
        if _needs_images(items):
            session.check_images()
    except SETUP_ERRORS as error:
        _stop_before_running(config, items, f"cri-conformance: {error}")


def _feature_marker_problem(item: pytest.Item, marker: pytest.Mark) -> str | None:
    """The id must be in the registry, and the shape must agree with it."""
    if len(marker.args) != 1 or not isinstance(marker.args[0], str) or not marker.args[0]:
        return f"{item.nodeid}: @pytest.mark.feature needs one feature id"
    feature_id = marker.args[0]
    try:
        feature = registry().get(feature_id)
    except FeatureRegistryError as error:
        return f"feature registry: {error}"
    if feature is None:
        area = feature_id.split(".", 1)[0]
        return (
            f"{item.nodeid}: unknown feature {feature_id!r}: describe it in "
            f"harness/features/{area}.yaml"
        )
    shape = marker.kwargs.get("shape", "single")
    if shape != feature.shape:
        return (
            f"{item.nodeid}: feature {feature_id} has shape {feature.shape!r} in the registry, "
            f"the marker says {shape!r}"
        )
    return None


def _needs_runtime(items: list[pytest.Item]) -> bool:
    return any("cri_session" in getattr(item, "fixturenames", ()) for item in items)


def _needs_images(items: list[pytest.Item]) -> bool:
    return any("images" in getattr(item, "fixturenames", ()) for item in items)


def _connect(config: pytest.Config) -> CriSession:
    """Connect once per process, before the first test, so setup problems surface early."""
    if SETTINGS_KEY not in config.stash:
        raise pytest.UsageError(
            "cri-conformance: this pytest-xdist run uses CRI fixtures, but no process of it "
            "was told so when it started: give a --cri-* option (e.g. --cri-endpoint), or set "
            f"{activation.SUITE_FLAG} = True in the conftest.py of the test folder"
        )
    if SESSION_KEY not in config.stash:
        session = CriSession(config.stash[SETTINGS_KEY])
        _ = session.client
        config.stash[SESSION_KEY] = session
    return config.stash[SESSION_KEY]


def _stop_before_running(config: pytest.Config, items: list[pytest.Item], message: str) -> None:
    """End the run with one line and no traceback.

    A pytest-xdist worker cannot call pytest.exit (the controller takes it for a crash), so it
    runs nothing and leaves the message for the controller to print.
    """
    if not hasattr(config, "workerinput"):
        pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)
    settings = config.stash[SETTINGS_KEY]
    settings.shared_dir.mkdir(parents=True, exist_ok=True)
    settings.setup_error.write_text(message)
    items.clear()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After pytest's own: a run cut short (-x, an interrupt) tears its session and module
    fixtures down there, and the removal queue must be drained before the sweep lists what
    is left (else the shared pods it is still removing count as leaks)."""
    config = session.config
    if SETTINGS_KEY not in config.stash:
        return  # not a conformance session
    if SESSION_KEY in config.stash:
        config.stash[SESSION_KEY].close()
    if hasattr(config, "workerinput"):
        return  # the controller sweeps once all workers are done
    settings = config.stash[SETTINGS_KEY]
    if settings.setup_error.exists():
        config.stash[SETUP_ERROR_KEY] = settings.setup_error.read_text()
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    try:
        report = SweepReport(settings.run_id, finish_run(settings))
    except CriError as error:
        report = SweepReport(settings.run_id, error=str(error))
    config.stash[SWEEP_KEY] = report
    if report.sweep is None and not report.error:
        return  # the run never reached a runtime
    report.write(Path(value(config, "cri_report_dir")))
    if report.fails_run and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's folder goes last, once all that reads it (the sweep, the matrix, the summary's
    endpoint) is done; by the controller, which made it."""
    if SETTINGS_KEY in config.stash and not hasattr(config, "workerinput"):
        run_folder.remove(config.stash[SETTINGS_KEY].shared_dir)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if SETTINGS_KEY not in config.stash:
        return None
    return header_lines(config.stash[SETTINGS_KEY], config.stash[PROFILE_KEY])


def _leave_out_what_crashes_the_runtime(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The profile's ``not_run`` features, on this run's handler: their tests would take the
    runtime down for every test after them. Said in the summary; counted as not run."""
    profile = config.stash[PROFILE_KEY]
    if profile is None:
        return
    not_run = profile.not_run_on(config.stash[SETTINGS_KEY].runtime_handler)
    if not not_run:
        return
    crashing, others = split_items(items, [registry()[entry.feature] for entry in not_run])
    if crashing:
        config.hook.pytest_deselected(items=crashing)
        items[:] = others
    config.stash[NOT_RUN_KEY] = [
        f"cri-conformance: not run, as profile {profile.name} says: {entry.feature}: {entry.reason}"
        for entry in not_run
    ]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    setup_error = config.stash.get(SETUP_ERROR_KEY, None)
    if setup_error:
        terminalreporter.write_line(f"ERROR: {setup_error}", red=True)
    if SETTINGS_KEY in config.stash:
        closing = closing_line(config.stash[SETTINGS_KEY], config.stash[PROFILE_KEY])
        if closing:
            terminalreporter.write_line(closing)
    for line in config.stash.get(NOT_RUN_KEY, []):
        terminalreporter.write_line(line, yellow=True)
    report = config.stash.get(SWEEP_KEY, None)
    if report is not None:
        report.summarize(terminalreporter)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cri_session(pytestconfig: pytest.Config) -> CriSession:
    """The process's connection to the runtime, made before the first test ran."""
    return _connect(pytestconfig)


@pytest.fixture(scope="session")
def cri(cri_session: CriSession) -> CriClient:
    """The CRI client of the runtime under test."""
    return cri_session.client


@pytest.fixture(scope="session")
def runtime_version(cri_session: CriSession) -> api.VersionResponse:
    return cri_session.version


@pytest.fixture(scope="session")
def runtime_handler(pytestconfig: pytest.Config) -> str:
    """The runtime handler the run's pods ask for (``--runtime-handler``; "" is the default)."""
    return pytestconfig.stash[SETTINGS_KEY].runtime_handler


@pytest.fixture(scope="session")
def removal_queue(cri: CriClient) -> Iterator[RemovalQueue]:
    """The process's queue of pods to stop and remove; drained after its last test, whose
    teardown reports what the last removals came to."""
    queue = RemovalQueue.beside(cri)
    yield queue
    queue.close().settle()


@pytest.fixture(scope="session")
def images(cri_session: CriSession) -> ImageCatalog:
    """The test images, published in the run's registry."""
    return cri_session.images


@pytest.fixture
def tracker(
    request: pytest.FixtureRequest, cri: CriClient, removal_queue: RemovalQueue
) -> Iterator[ResourceTracker]:
    """Everything the test creates; removed when the test ends, pass or fail (its pods while
    the next test runs: harness.removal_queue)."""
    ownership = request.config.stash[SETTINGS_KEY].ownership
    resources = ResourceTracker(cri, ownership, removal_queue.on_behalf_of(request.node.nodeid))
    yield resources
    resources.cleanup().settle()


@pytest.fixture
def run_context(
    request: pytest.FixtureRequest,
    cri: CriClient,
    tracker: ResourceTracker,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunContext:
    settings = request.config.stash[SETTINGS_KEY]
    return run_context_for(settings, cri, tracker, request.node.nodeid, tmp_path_factory)


@pytest.fixture
def make_pod(run_context: RunContext) -> PodFactory:
    """Run pod sandboxes owned by the test: ``make_pod()``, ``make_pod(hostname="h")``."""
    return PodFactory(run_context)


@pytest.fixture
def make_container(
    run_context: RunContext, images: ImageCatalog, cri_session: CriSession
) -> ContainerFactory:
    """Create and start containers owned by the test: ``make_container(pod, command=[...])``."""
    return ContainerFactory(run_context, images, cri_session.puller)


@pytest.fixture
def absent_image(
    cri: CriClient, images: ImageCatalog, cri_session: CriSession
) -> Iterator[Callable[[str], TestImage]]:
    """``absent_image("removable-tag")``: a test image the runtime does not hold right now.

    Whatever the test pulls of it is removed again when the test ends. Shared images are refused.
    """
    used: list[TestImage] = []

    def absent(name: str) -> TestImage:
        image = images[name]
        make_absent(cri, cri_session.puller, image)
        used.append(image)
        return image

    yield absent
    for image in used:
        make_absent(cri, cri_session.puller, image)
