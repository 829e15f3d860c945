"""The ``cri-conformance bench`` command line: ``bench --target ...`` and ``bench compare``.

Kept apart from harness/cli.py, which only hooks it in: the bench's options are many, and its
imports (matplotlib, tqdm) load only when a bench subcommand runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.images.registry import DEFAULT_ADDRESS

JSON_FILE, MARKDOWN_FILE, HTML_FILE = "bench.json", "bench.md", "bench.html"


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers, e.g. 1,4,16") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive whole numbers")
    return counts


def _bench(args: argparse.Namespace) -> int:
    from harness.bench import result
    from harness.bench.html import render_html
    from harness.bench.images import OwnImages
    from harness.bench.markdown import render
    from harness.bench.runner import Settings, bench_target
    from harness.images.catalog import prepare
    from harness.matrix.runner import RunError, parse_target
    from harness.ownership import RunOwnership, new_run_id
    from harness.targets import check

    if not args.target:
        raise RunError("give at least one --target NAME=ENDPOINT (or: bench compare A B)")
    targets = [parse_target(spec) for spec in args.target]
    if len({t.name for t in targets}) != len(targets):
        raise RunError("target names must differ")
    for target in targets:
        check(target)
    catalog = prepare(args.image_registry, publish=False)
    settings = Settings(
        image=args.image or catalog.busybox.ref,
        pod_image=catalog.pause.ref,
        samples=args.samples,
        throughput_pods=args.pods,
        concurrency=args.concurrency,
        scale_counts=args.scale,
        scale_samples=args.scale_samples,
        timeout=args.cri_timeout,
    )
    run = RunOwnership(new_run_id())
    own = OwnImages(catalog.busybox, run)
    results = [bench_target(target, settings, run, own) for target in targets]
    data = result.to_json(run.run_id, settings, results)
    output = Path(args.output)
    print(result.write(output / JSON_FILE, data))
    benched = result.targets_of(data)
    (output / MARKDOWN_FILE).write_text(render(benched))
    (output / HTML_FILE).write_text(render_html(benched))
    print(output / MARKDOWN_FILE)
    print(output / HTML_FILE)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from harness.bench.compare import UnknownOperation, compare
    from harness.bench.result import load

    try:
        outcome = compare(load(Path(args.baseline)), load(Path(args.result)), args.max_slowdown,
                          args.operation or ())  # fmt: skip
    except UnknownOperation as error:
        print(f"cri-conformance bench compare: {error}", file=sys.stderr)
        return 2
    for change in outcome.changes:
        print(change.describe())
    for missing in outcome.missing:
        print(f"missing from {args.result}: {missing}")
    if outcome.slower:
        print(
            f"cri-conformance bench: {len(outcome.slower)} operation(s) more than "
            f"{args.max_slowdown:g}% slower at p50",
            file=sys.stderr,
        )
        return 1
    return 0


def add_bench_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="CRI latency, throughput and list scaling of runtimes, side by side",
        description="Benchmarks each --target in turn and writes bench.json, bench.md (ratios "
        "against the first target) and bench.html (plots). See docs/bench.md.",
    )
    bench.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME=ENDPOINT",
        help="as for `run`: unix:///path, or embedded:STRATEGY; the first is the reference",
    )
    bench.add_argument("--samples", type=int, default=20, help="lifecycle rounds (default 20)")
    bench.add_argument(
        "--pods", type=int, default=8, help="pods per throughput measure (default 8)"
    )
    bench.add_argument(
        "--concurrency", type=_counts, default=(1, 4, 16), metavar="N[,N]", help="default 1,4,16"
    )
    bench.add_argument(
        "--scale",
        type=_counts,
        default=(10, 50),
        metavar="N[,N]",
        help="pod counts the list calls are timed against (default 10,50; issue 16 asks for "
        "10,100,500, which takes minutes per target)",
    )
    bench.add_argument(
        "--scale-samples", type=int, default=10, help="list calls per count (default 10)"
    )
    bench.add_argument("--image", metavar="REF", help="container image (default: the test busybox)")
    bench.add_argument(
        "--image-registry",
        default=DEFAULT_ADDRESS,
        metavar="HOST:PORT",
        help=f"the registry holding the test images (default {DEFAULT_ADDRESS})",
    )
    bench.add_argument("--cri-timeout", type=float, default=60.0, metavar="SECONDS")
    bench.add_argument("-o", "--output", default="reports/bench", metavar="DIR")
    bench.set_defaults(handler=_bench)
    actions = bench.add_subparsers(dest="action")
    gate = actions.add_parser(
        "compare",
        help="exit 1 when an operation's p50 is more than --max-slowdown percent worse",
    )
    gate.add_argument("baseline", metavar="BASELINE.json")
    gate.add_argument("result", metavar="RESULT.json")
    gate.add_argument("--max-slowdown", type=float, required=True, metavar="PCT")
    gate.add_argument(
        "--operation",
        action="append",
        default=[],
        metavar="RPC",
        help="gate only this operation (repeat); default: every operation of the baseline",
    )
    gate.set_defaults(handler=_compare)
