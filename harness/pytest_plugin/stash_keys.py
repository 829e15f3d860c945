"""What the pytest plugins keep in pytest's stashes between hooks, one typed key each.

A ``pytest.StashKey`` says the type of what it holds, so ``config.stash[SETTINGS_KEY]`` is
checked like an attribute. The keys live apart from the hooks that fill them because more than
one plugin reads them (the matrix recorder and the property plugin read the run's settings),
and a plugin that imported another plugin for its keys would load it, hooks and all.
"""

from __future__ import annotations

import pytest

from harness.matrix.cells import Outcome
from harness.matrix.profiles import Profile
from harness.pytest_plugin.session import CriSession, Settings
from harness.pytest_plugin.sweep_report import SweepReport

# On the config: the session's decisions, made once.
ACTIVE_KEY = pytest.StashKey[bool]()  # the plugins act in this session (activation)
ALIASES_KEY = pytest.StashKey[list[str]]()  # old option names given, to warn about (options)
SETTINGS_KEY = pytest.StashKey[Settings]()  # the run: id, endpoints, shared folder, ...
PROFILE_KEY = pytest.StashKey[Profile | None]()  # the runtime's declared limitations, if any

# On the config: what the run met.
SESSION_KEY = pytest.StashKey[CriSession]()  # this process's connection, once made
SETUP_ERROR_KEY = pytest.StashKey[str]()  # why the run stopped before its first test
NOT_RUN_KEY = pytest.StashKey[list[str]]()  # the profile's not_run features, for the summary
SWEEP_KEY = pytest.StashKey[SweepReport]()  # what the end-of-run sweep found

# On each test item: the recorder's outcome of each phase (setup, call, teardown).
PHASE_OUTCOMES_KEY = pytest.StashKey[list[Outcome]]()
