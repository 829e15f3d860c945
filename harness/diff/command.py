"""The ``cri-conformance diff`` command line, and ``replay --diff``.

Kept apart from harness/cli.py, which hooks them in: the options are many, and hypothesis,
the image catalog and the targets load only when a diff runs. Exit codes: 0 when every
difference is listed as known, 1 when a new one is found (or a sweep found an object that
is not the run's), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.images.registry import DEFAULT_ADDRESS

if TYPE_CHECKING:
    from harness.diff.normalise import Rule
    from harness.diff.pair import PairSettings
    from harness.matrix.runner import Target

DEFAULT_EXAMPLES = 50
DEFAULT_SHRINK_RUNS = 30


def add_pair_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``diff`` and ``replay --diff`` share: the two runtimes and how to compare."""
    for side in ("a", "b"):
        parser.add_argument(
            f"--{side}",
            metavar="NAME=ENDPOINT",
            help="a runtime, as for `run --target`: unix:///path, or embedded:STRATEGY",
        )
    parser.add_argument(
        "--known",
        action="append",
        default=[],
        metavar="NAME|PATH",
        help="known differences: a file of fixtures/diff by name, or a path (repeatable)",
    )
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="more normalisation rules, after the built-in ones (repeatable)",
    )
    parser.add_argument(
        "--image-registry",
        default=DEFAULT_ADDRESS,
        metavar="HOST:PORT",
        help=f"the registry holding the test images (default {DEFAULT_ADDRESS})",
    )


def add_diff_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = commands.add_parser(
        "diff",
        help="run the same generated pods on two runtimes and report every difference",
        description="Generates pod specs with hypothesis, runs each on both runtimes, compares "
        "what a kubelet and a workload would see, and shrinks each new difference to a minimal "
        "spec. Writes diff.json, diff.md, diff.html and specs/ to the output folder. Exit 1 "
        "when a difference no --known file lists is found. See docs/diff.md.",
    )
    add_pair_arguments(diff)
    diff.add_argument("--cri-timeout", type=float, default=60.0, metavar="SECONDS")
    diff.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N")
    diff.add_argument("--seed", type=int, metavar="S", help="default: a fresh one, printed")
    diff.add_argument("--area", metavar="NAME[,NAME]", help="areas or globs (default: all)")
    diff.add_argument(
        "--shrink-runs",
        type=int,
        default=DEFAULT_SHRINK_RUNS,
        metavar="N",
        help="at most N new specs run to shrink each new difference; 0: no shrinking "
        f"(default {DEFAULT_SHRINK_RUNS})",
    )
    diff.add_argument(
        "--runtime-handler",
        action="append",
        default=[],
        metavar="NAME=HANDLER",
        help="the runtime handler of every pod of target NAME",
    )
    diff.add_argument("-o", "--output", default="reports/diff", metavar="DIR")
    diff.add_argument(
        "--list",
        action="store_true",
        help="print the areas and the normalisation rules (with --rules files) and exit",
    )
    diff.set_defaults(handler=run_diff)


def _rules(files: list[str]) -> tuple[Rule, ...]:
    from harness.diff.normalise import BUILTIN, load_rules

    return (*BUILTIN, *(rule for file in files for rule in load_rules(Path(file))))


def run_diff(args: argparse.Namespace) -> int:
    from harness.diff.areas import AREAS, choose
    from harness.diff.driver import Search, SearchSettings
    from harness.diff.generated import diff_specs
    from harness.diff.pair import open_pair
    from harness.diff.report import RunInfo, document, new_findings, write
    from harness.properties.specs import Owner

    rules = _rules(args.rules)
    if args.list:
        for name, meaning in AREAS.items():
            print(f"area {name}: {meaning}")
        for rule in rules:
            print(f"rule {rule.describe()}")
        return 0
    a, b, settings = _pair_settings(args, args.runtime_handler, rules, choose(args.area))
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    print(f"cri-conformance diff: {a.name} vs {b.name}, seed {seed} (--seed {seed} repeats it)")
    started = time.monotonic()
    owner = Owner(settings.run_id, "cri-conformance diff", "/cri-diff/logs", "/cri-diff/volumes")
    with open_pair(a, b, settings) as pair:
        search = Search(
            pair.examine,
            diff_specs(owner, settings.image, settings.areas),
            SearchSettings(args.examples, seed, args.shrink_runs),
        )
        outcome = search.run()
    info = RunInfo(
        settings.run_id, seed, args.examples, settings.areas, args.shrink_runs, a, b,
        pair.runtimes, tuple(settings.rules), tuple(args.rules), tuple(args.known),
        time.monotonic() - started, tuple(pair.notes),
    )  # fmt: skip
    output = Path(args.output)
    shutil.rmtree(output / "specs", ignore_errors=True)  # this run's specs, no older ones
    data = document(info, outcome, output)
    for path in write(data, output):
        print(path)
    return _verdict(new_findings(data), len(data["findings"]), pair.notes, print)


def _pair_settings(
    args: argparse.Namespace, handlers: list[str], rules: Sequence[Rule], areas: frozenset[str]
) -> tuple[Target, Target, PairSettings]:
    from harness.diff.known import load_known
    from harness.diff.pair import PairSettings
    from harness.images.catalog import prepare
    from harness.matrix.runner import RunError, parse_target, with_handlers
    from harness.ownership import new_run_id
    from harness.targets import check

    if not args.a or not args.b:
        raise RunError("give both runtimes: --a NAME=ENDPOINT --b NAME=ENDPOINT")
    a, b = with_handlers([parse_target(args.a), parse_target(args.b)], handlers)
    if a.name == b.name:
        raise RunError(f"the two runtimes need different names (both are {a.name!r})")
    check(a)
    check(b)
    known = [entry for name in args.known for entry in load_known(name)]
    catalog = prepare(args.image_registry, publish=False)
    settings = PairSettings(
        image=catalog.busybox.ref,
        pod_image=catalog.pause.ref,
        run_id=new_run_id(),
        areas=areas,
        rules=rules,
        known=known,
        timeout=args.cri_timeout,
    )
    return a, b, settings


def _verdict(new: int, found: int, notes: list[str], say: Callable[[str], None]) -> int:
    for note in notes:
        say(f"cri-conformance diff: {note}")
    say(f"cri-conformance diff: {new} new difference(s), {found - new} known")
    unsafe = any("SAFETY" in note for note in notes)
    return 1 if new or unsafe else 0


def is_diff_spec(path: Path) -> bool:
    from harness.diff.generated import PROPERTY
    from harness.properties.spec_files import load

    return load(path).property == PROPERTY


def replay_diff(path: Path, args: argparse.Namespace) -> int:
    """Run a diff's spec file on both runtimes again and print how they differ; 1 when a
    new difference shows."""
    from harness.diff.areas import ALL
    from harness.diff.generated import PROPERTY, areas_of
    from harness.diff.pair import open_pair
    from harness.properties.spec_files import SpecFileError, load

    spec = load(path)
    if spec.property != PROPERTY:
        raise SpecFileError(
            f"{path}: a spec of property {spec.property!r}; replay it without --diff"
        )
    handlers = [args.runtime_handler] if args.runtime_handler else []  # NAME=HANDLER here
    a, b, settings = _pair_settings(args, handlers, _rules(args.rules), areas_of(spec) or ALL)
    with open_pair(a, b, settings) as pair:
        example = pair.examine(spec)
    ordered = sorted(example.differences, key=lambda c: not c.is_new)
    for classified in ordered:
        status = "NEW  " if classified.is_new else "known"
        print(f"{status} {classified.difference.path}: {classified.difference.detail()}")
    new = sum(1 for c in example.differences if c.is_new)
    return _verdict(new, len(example.differences), pair.notes, print)
