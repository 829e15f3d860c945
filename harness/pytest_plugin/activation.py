"""When the plugins act: in sessions that run the conformance suite or name a --cri-* option.

The plugins load in every pytest session of an environment that has the package, including
other projects' sessions. Those must run exactly as without it: no profile loaded, no
connection, no report, no hypothesis settings changed. A session is decided at configure time:
a ``--cri-*`` option on the command line, the suite among the initial paths (its conftest sets
``CRI_CONFORMANCE_SUITE = True``; a project's own conftest may set it too), or the suite named
as a package (``pytest --pyargs harness.suites``). A session that finds the suite, or tests
asking for a CRI fixture, only while collecting is switched on then (``switch_on_late``).
"""

from __future__ import annotations

import pytest

from harness.package_data import SUITES_PACKAGE
from harness.pytest_plugin.options import given_on_command_line
from harness.pytest_plugin.stash_keys import ACTIVE_KEY

SUITE_FLAG = "CRI_CONFORMANCE_SUITE"


def is_suite_run(config: pytest.Config) -> bool:
    """A conftest with the suite flag is loaded, or the suite package is named."""
    if any(getattr(plugin, SUITE_FLAG, False) for plugin in config.pluginmanager.get_plugins()):
        return True
    return bool(config.option.pyargs) and any(_names_the_suite(arg) for arg in config.args)


def _names_the_suite(arg: str) -> bool:
    module = str(arg).split("::", 1)[0]
    return module == SUITES_PACKAGE or module.startswith(SUITES_PACKAGE + ".")


def is_active(config: pytest.Config) -> bool:
    """Decided once, at configure time; ``switch_on_late`` may turn it on afterwards."""
    if ACTIVE_KEY not in config.stash:
        config.stash[ACTIVE_KEY] = given_on_command_line(config) or is_suite_run(config)
    return config.stash[ACTIVE_KEY]


def needs_switching_on(config: pytest.Config, items: list[pytest.Item]) -> bool:
    """After collection: the suite was found in a folder below the ones given, or a test asks
    for a CRI fixture (a project's own tests on the harness)."""
    if is_active(config):
        return False
    return is_suite_run(config) or any(
        "cri_session" in getattr(item, "fixturenames", ()) for item in items
    )


def switch_on_late(config: pytest.Config) -> None:
    config.stash[ACTIVE_KEY] = True
