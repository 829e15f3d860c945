"""The ``cri-conformance`` command.

Subcommands import what they need when they run, so ``images`` works with nothing but the
standard library (scripts/services calls it before any virtualenv exists).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _images(args: argparse.Namespace) -> int:
    from harness.images.catalog import build, build_all
    from harness.images.registry import push

    for built in build(args.output) if args.action == "build" else build_all():
        if args.action == "push":
            for reference in push(built, args.to):
                print(f"{reference}@{built.digest}")
        elif args.action == "build":
            configs = ",".join(f"{arch}={digest}" for arch, digest in built.config_digests.items())
            print(f"{built.recipe.name}\t{built.digest}\t{configs}\t{built.layout}")
        else:
            print(f"{built.recipe.name}\t{','.join(built.tags)}\t{built.digest}")
    return 0


def _features(args: argparse.Namespace) -> int:
    from harness.features import registry
    from harness.pytest_plugin.selection import Selection

    if args.verify_spec:
        return _verify_spec(args.verify_spec)
    chosen = Selection.parse(args.feature, args.area).chosen(registry())
    rows = [("ID", "LEVEL", "AREA", "SHAPE", "TITLE")]
    for feature in chosen:
        level = f"{feature.level.value} ({feature.one_of})" if feature.one_of else feature.level
        rows.append((feature.id, str(level), feature.area, feature.shape, feature.title))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]
        )
    return 0


def _verify_spec(proto: Path) -> int:
    """Check every proto citation's words against a copy of api.proto; 1 when one is wrong."""
    from harness.features import registry
    from harness.features.spec import SOURCE, unquoted

    text = proto.read_text()
    cited = [(f.id, c) for f in registry().values() for c in f.spec if c.lines is not None]
    wrong = [(feature, citation) for feature, citation in cited if unquoted(citation, text)]
    for feature, citation in wrong:
        print(f"{feature}: {citation.where} does not say {citation.says!r}")
    print(f"{len(cited) - len(wrong)} of {len(cited)} api.proto citations found ({SOURCE})")
    return 1 if wrong else 0


def _add_features_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    features = commands.add_parser(
        "features",
        help="list the features the matrix has rows for: id, level, area, shape, title",
        description="The patterns are those of --cri-feature and --cri-area: comma-separated, "
        "shell globs allowed; a feature matching either is listed.",
    )
    features.add_argument("--feature", metavar="ID[,ID]", help="feature ids or globs")
    features.add_argument("--area", metavar="NAME[,NAME]", help="areas or globs")
    features.add_argument(
        "--verify-spec",
        type=Path,
        metavar="API_PROTO",
        help="check the registry's api.proto citations against this copy of api.proto "
        "(of the version harness/features/spec.py pins) instead of listing",
    )
    features.set_defaults(handler=_features)


def _suites_readme(args: argparse.Namespace) -> int:
    from harness.package_data import suites_dir
    from harness.suite_readme import collect, render, update

    generated = render(collect(suites_dir()))
    path: Path | None = args.write or args.check
    if path is None:
        print(generated)
        return 0
    current = path.read_text()
    wanted = update(current, generated)
    if args.write:
        path.write_text(wanted)
    elif current != wanted:
        print(f"{path} is stale: run cri-conformance suites-readme --write {path}", file=sys.stderr)
        return 1
    return 0


def _add_suites_readme_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    readme = commands.add_parser(
        "suites-readme",
        help="the generated tables of suites/README.md: modules with their case counts, and the "
        "rule each feature checks",
        description="Prints the tables, or writes or checks them between the marker lines of a "
        "README (suites/README.md in a checkout).",
    )
    where = readme.add_mutually_exclusive_group()
    where.add_argument("--write", type=Path, metavar="README", help="update the tables in README")
    where.add_argument(
        "--check", type=Path, metavar="README", help="exit 1 when README's tables are stale"
    )
    readme.set_defaults(handler=_suites_readme)


def _replay(args: argparse.Namespace) -> int:
    from harness.diff.command import is_diff_spec, replay_diff

    if args.diff:
        return replay_diff(Path(args.file), args)
    if is_diff_spec(Path(args.file)):
        print(
            f"cri-conformance: {args.file} is a spec of `cri-conformance diff`: replay it with "
            "--diff --a NAME=ENDPOINT --b NAME=ENDPOINT",
            file=sys.stderr,
        )
        return 2
    from harness.properties.replay import Target, replay

    target = Target(args.cri_endpoint, args.image_endpoint, args.cri_timeout, args.runtime_handler)
    return replay(Path(args.file), target)


def _report_merge(args: argparse.Namespace) -> int:
    from harness.matrix.document import load, merge
    from harness.matrix.outputs import write_reports

    merged = merge([(path, load(Path(path))) for path in args.matrices])
    for written in write_reports(merged, Path(args.output)):
        print(written)
    return 0


def _report_compare(args: argparse.Namespace) -> int:
    from harness.matrix.compare import compare
    from harness.matrix.document import load

    new = load(Path(args.new))
    result = compare(load(Path(args.old)), new)
    for note in result.notes:
        print(f"note: {note}")
    for change in result.changes:
        print(change.describe())
    print(result.summary())
    for name in new.runtime_names():
        print(f"verdict ({name}): " + " · ".join(new.verdict(name).lines()))
    if result.got_worse(allow_missing=args.allow_missing):
        print("cri-conformance: a cell got worse", file=sys.stderr)
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from harness.matrix.runner import (
        INSTALLED_SUITES,
        durations_of,
        parse_target,
        run_targets,
        with_handlers,
        with_profiles,
    )

    targets = [parse_target(spec) for spec in args.target]
    targets = with_handlers(with_profiles(targets, args.profile), args.runtime_handler)
    durations = durations_of(Path(args.longest_first)) if args.longest_first else None
    return run_targets(
        targets,
        Path(args.report_dir),
        [args.suites] if args.suites else INSTALLED_SUITES,
        args.pytest_args,
        parallel=args.parallel,
        durations=durations,
    )


def _add_report_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="merge and compare matrix.json files")
    actions = report.add_subparsers(dest="action", required=True)
    merge = actions.add_parser(
        "merge", help="one matrix (json, md, html) from several runs: runtimes or nodes"
    )
    merge.add_argument("matrices", nargs="+", metavar="MATRIX.json")
    merge.add_argument("-o", "--output", required=True, metavar="DIR", help="where to write")
    merge.set_defaults(handler=_report_merge)
    compare = actions.add_parser(
        "compare",
        help="print what changed; exit 1 when a cell got worse, 2 when an input is unusable",
        description="States rank pass > xpass > skip > unsupported > deviation > fail; a cell "
        "that moves down, or disappears, got worse. Reads matrix.json v1 and v2.",
    )
    compare.add_argument("old", metavar="OLD.json")
    compare.add_argument("new", metavar="NEW.json")
    compare.add_argument(
        "--allow-missing",
        action="store_true",
        help="a cell that is gone from NEW (feature not run, runtime missing) is not worse",
    )
    compare.set_defaults(handler=_report_compare)


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run the suite once per target and merge the matrices",
        description="Runs `pytest SUITES` once per target, each in its own process writing "
        "into REPORT_DIR/NAME/, then writes the merged matrix into REPORT_DIR. "
        "Arguments after -- go to every pytest run.",
    )
    run.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="NAME=ENDPOINT",
        help="a runtime: its column name and socket (unix:///path), or embedded:STRATEGY for "
        "the reference shim started for the run; repeat for more",
    )
    run.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME=PROFILE",
        help="the runtime profile of target NAME (a name in fixtures/profiles or a file)",
    )
    run.add_argument(
        "--runtime-handler",
        action="append",
        default=[],
        metavar="NAME=HANDLER",
        help="the runtime handler of every pod of target NAME (default: the runtime's default)",
    )
    run.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="run N targets at a time (default 1); each run's output then goes to "
        "REPORT_DIR/NAME/pytest.log and is printed whole when the run ends",
    )
    run.add_argument(
        "--longest-first",
        metavar="MATRIX.json",
        help="start the targets in the order of the time each column took in this matrix of an "
        "earlier run, longest first (targets it lacks first of all); the merged matrix keeps "
        "the order of --target",
    )
    run.add_argument("--report-dir", default="reports", metavar="DIR", help="default: reports/")
    run.add_argument(
        "--suites",
        metavar="PATH",
        help="the suite to run (default: the installed one, the harness.suites package)",
    )
    run.add_argument("pytest_args", nargs="*", metavar="-- PYTEST ARGS")
    run.set_defaults(handler=_run)


def _add_replay_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from harness.diff.command import add_pair_arguments

    replay = commands.add_parser(
        "replay",
        help="run a saved spec (reports/failing-specs/*.json, or with --diff one of a diff's "
        "specs) again",
        description="Create the pod and containers of a spec file, check its property, clean "
        "up. Exits 0 when the property holds, 1 when it does not. With --diff: run a spec of "
        "`cri-conformance diff` (reports/diff/specs/*.json) on --a and --b, print how they "
        "differ, exit 1 when a difference no --known file lists shows.",
    )
    replay.add_argument(
        "file", metavar="FILE", help="a spec file written by a failing property or by diff"
    )
    replay.add_argument(
        "--diff",
        action="store_true",
        help="FILE is a diff's spec: compare --a and --b on it (the --cri-* options are unused)",
    )
    replay.add_argument(
        "--cri-endpoint",
        metavar="ENDPOINT",
        help="runtime service socket (unix:///path); default: $CONTAINER_RUNTIME_ENDPOINT, "
        "then /etc/crictl.yaml",
    )
    replay.add_argument("--image-endpoint", metavar="ENDPOINT", help="image service socket")
    replay.add_argument(
        "--cri-timeout", type=float, default=30.0, metavar="SECONDS", help="deadline of each call"
    )
    replay.add_argument("--runtime-handler", default="", metavar="NAME", help="runtime handler")
    add_pair_arguments(replay)
    replay.set_defaults(handler=_replay)


def version() -> str:
    """The installed distribution's version (a bare checkout has none)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("cri-conformance")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    # Light imports only (standard library, PyYAML), like everything before a subcommand runs.
    from harness.bench.command import add_bench_command
    from harness.diff.command import add_diff_command
    from harness.embedded import add_shim_arguments, run_shim

    parser = argparse.ArgumentParser(
        prog="cri-conformance",
        description="CRI v1 conformance harness and reference shim",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    images = commands.add_parser("images", help="build, push or list the test images")
    image_actions = images.add_subparsers(dest="action", required=True)
    build = image_actions.add_parser(
        "build",
        help="build every recipe in fixtures/images into one OCI layout (linux/amd64 and "
        "linux/arm64; needs a checkout: it fetches Debian's busybox-static .debs)",
    )
    build.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="write the layout to DIR/KEY (KEY names the recipes and busybox it is built "
        "from) instead of the user's cache",
    )
    image_actions.add_parser("list", help="list the recipes with their tags and digests")
    push = image_actions.add_parser("push", help="push the test images to a registry")
    push.add_argument(
        "--to", required=True, metavar="REGISTRY", help="registry host[:port], e.g. 127.0.0.1:5000"
    )
    images.set_defaults(handler=_images)
    _add_report_commands(commands)
    _add_run_command(commands)
    add_bench_command(commands)
    add_diff_command(commands)
    _add_features_command(commands)
    _add_suites_readme_command(commands)
    _add_replay_command(commands)

    shim = commands.add_parser(
        "shim", help="run the reference CRI shim (same as python -m reference_shim)"
    )
    add_shim_arguments(shim)
    shim.set_defaults(handler=run_shim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except Exception as error:  # one line for the user, not a traceback
        if type(error).__module__.startswith(("harness", "reference_shim")):
            print(f"cri-conformance: {error}", file=sys.stderr)
            return int(getattr(error, "exit_code", 1))
        raise


if __name__ == "__main__":
    sys.exit(main())
