"""The plugin's command-line options and their ini settings.

Every option starts with ``--cri-``, so it cannot clash with another project's options. Each
also has an ini setting named like it (``--cri-report-dir`` -> ``cri_report_dir``), a default
for a project that always tests one runtime; the command line wins over the ini file.

The names before 0.2 (``--report-dir``, ``--runtime-profile``, ...) still work for this release,
with a deprecation warning. They are added only once the initial conftests are loaded, and only
when nobody else took the name, so a project with its own ``--report-dir`` keeps it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import pytest

from harness.embedded import BACKENDS, STRATEGIES
from harness.pytest_plugin.stash_keys import ALIASES_KEY

GROUP = "cri-conformance"
ALIASES_UNTIL = "0.3"


@dataclass(frozen=True)
class Option:
    name: str  # --cri-...
    help: str
    default: str | None = None  # as the ini file spells it
    old: str | None = None  # the name before the --cri- prefix, kept as an alias
    kind: str = "string"  # string, float or flag
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.name.removeprefix("--").replace("-", "_")


OPTIONS = (
    Option(
        "--cri-endpoint",
        "runtime service socket (unix:///path); default: $CONTAINER_RUNTIME_ENDPOINT, "
        "then /etc/crictl.yaml",
        metavar="ENDPOINT",
    ),
    Option(
        "--cri-image-endpoint",
        "image service socket; default: the runtime endpoint",
        old="--image-endpoint",
        metavar="ENDPOINT",
    ),
    Option(
        "--cri-timeout",
        "deadline of every CRI call in seconds (default 30)",
        default="30",
        kind="float",
        metavar="SECONDS",
    ),
    Option(
        "--cri-image-registry",
        "registry that already holds the test images (see `cri-conformance images push`); "
        "default: a local registry on 127.0.0.1:5000 started for the run",
        old="--image-registry",
        metavar="HOST[:PORT]",
    ),
    Option(
        "--cri-runtime-handler",
        "runtime handler for every pod (default: the runtime's default)",
        default="",
        old="--runtime-handler",
        metavar="NAME",
    ),
    Option(
        "--cri-shim-strategy",
        "with no endpoint given, the run tests the embedded reference shim with this "
        "multi-container strategy (default: reject)",
        default="reject",
        old="--shim-strategy",
        choices=STRATEGIES,
    ),
    Option(
        "--cri-shim-backend",
        "the embedded shim's backend (default: apple on a Mac with Apple's container CLI, "
        "else docker)",
        default="auto",
        old="--shim-backend",
        choices=BACKENDS,
    ),
    Option(
        "--cri-runtime-profile",
        "declared limitations of the runtime under test: a profile name (e.g. containerd-1.6, "
        "see fixtures/profiles) or a YAML file",
        old="--runtime-profile",
        metavar="NAME|PATH",
    ),
    Option(
        "--cri-report-dir",
        "where reports are written (default: reports/)",
        default="reports",
        old="--report-dir",
        metavar="DIR",
    ),
    Option(
        "--cri-runtime-name",
        "the runtime's column name in the matrix (default: runtime_name from Version)",
        old="--runtime-name",
        metavar="NAME",
    ),
    Option(
        "--cri-strict-profile",
        "fail the run when a feature the runtime profile declares passes (xpass)",
        default="false",
        old="--strict-profile",
        kind="flag",
    ),
    Option(
        "--cri-require-conformant",
        "fail the run unless every required feature of the registry ran and passed "
        "(deviations, skips and features not run count against it)",
        default="false",
        old="--require-conformant",
        kind="flag",
    ),
    Option(
        "--cri-feature",
        "run only the tests of these features: ids, comma-separated, shell globs allowed "
        "(e.g. pod.list*,image.pull); with --cri-area, a test of either runs",
        metavar="ID[,ID]",
    ),
    Option(
        "--cri-area",
        "run only the tests of these areas (runtime, pod, container, image, ...), "
        "comma-separated, globs allowed; `cri-conformance features` lists ids and areas",
        metavar="NAME[,NAME]",
    ),
    Option(
        "--cri-hypothesis-profile",
        "hypothesis profile of the property tests only (default: cri-conformance-ci; "
        "cri-conformance-thorough explores more, from a fresh seed)",
        metavar="NAME",
    ),
)
BY_DEST = {option.dest: option for option in OPTIONS}


def add_options(parser: pytest.Parser) -> None:
    """Every option defaults to None, so a value means the command line gave it."""
    group = parser.getgroup(GROUP, "CRI conformance")
    for option in OPTIONS:
        group.addoption(option.name, **_argparse_attrs(option, _help(option)))
        description = f"default of {option.name}"
        if option.kind == "flag":
            parser.addini(option.dest, description, type="bool", default=option.default == "true")
        else:
            parser.addini(option.dest, description, type="string", default=option.default)


def _argparse_attrs(option: Option, help: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"dest": option.dest, "default": None, "help": help}
    if option.kind == "flag":
        return {**attrs, "action": "store_true"}
    attrs.update(metavar=option.metavar, choices=option.choices)
    return {**attrs, "type": float} if option.kind == "float" else attrs


def _help(option: Option) -> str:
    if option.old is None:
        return option.help
    return f"{option.help} [old name: {option.old}, until {ALIASES_UNTIL}]"


def add_old_names(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Add the old names nobody else registered; called once the initial conftests (whose
    options may take such a name) are loaded."""
    taken = {name for group in parser._groups for opt in group.options for name in opt.names()}
    group = parser.getgroup(GROUP)
    used: list[str] = []
    for option in OPTIONS:
        if option.old is None or option.old in taken:
            continue
        group.addoption(option.old, **_argparse_attrs(option, argparse.SUPPRESS))
        if any(arg == option.old or arg.startswith(option.old + "=") for arg in args):
            used.append(option.old)
    early_config.stash[ALIASES_KEY] = used


def warn_about_old_names(config: pytest.Config) -> None:
    for old in config.stash.get(ALIASES_KEY, []):
        new = next(option.name for option in OPTIONS if option.old == old)
        config.issue_config_time_warning(
            pytest.PytestDeprecationWarning(
                f"cri-conformance: {old} is now {new}; the old name goes in {ALIASES_UNTIL}"
            ),
            stacklevel=2,
        )


def given_on_command_line(config: pytest.Config) -> bool:
    """Whether any --cri-* option (or an old name of one) was given."""
    return any(getattr(config.option, dest, None) is not None for dest in BY_DEST)


def value(config: pytest.Config, dest: str) -> Any:
    """The command line's value, else the ini file's, else the default."""
    option = BY_DEST[dest]
    given = getattr(config.option, dest, None)
    if given is not None:
        return given
    configured = config.getini(dest)
    if option.kind == "float":
        try:
            return float(configured)
        except ValueError:
            raise pytest.UsageError(
                f"cri-conformance: ini setting {dest} = {configured!r} is not a number"
            ) from None
    if option.choices and configured not in option.choices:
        raise pytest.UsageError(
            f"cri-conformance: ini setting {dest} = {configured!r}: choose one of "
            f"{', '.join(option.choices)}"
        )
    return configured if configured or option.default is not None else None
