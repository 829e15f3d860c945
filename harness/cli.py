"""The ``cri-conformance`` command.

Subcommands import what they need when they run, so ``images`` works with nothing but the
standard library (scripts/services calls it before any virtualenv exists).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _images(args: argparse.Namespace) -> int:
    from harness.images.catalog import build_all
    from harness.images.registry import push

    for built in build_all():
        if args.action == "push":
            for reference in push(built, args.to):
                print(f"{reference}@{built.manifest_digest}")
        elif args.action == "build":
            print(f"{built.recipe.name}\t{built.manifest_digest}\t{built.layout}")
        else:
            print(f"{built.recipe.name}\t{','.join(built.tags)}\t{built.manifest_digest}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.replay import Target, replay

    target = Target(args.cri_endpoint, args.image_endpoint, args.cri_timeout, args.runtime_handler)
    return replay(Path(args.file), target)


def _shim(args: argparse.Namespace) -> int:
    from reference_shim.config import from_arguments
    from reference_shim.server import serve

    return serve(from_arguments(args))


def build_parser() -> argparse.ArgumentParser:
    # Standard library only, like everything imported before a subcommand runs.
    from reference_shim.config import add_arguments as add_shim_arguments

    parser = argparse.ArgumentParser(
        prog="cri-conformance",
        description="CRI v1 conformance harness and reference shim",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    images = commands.add_parser("images", help="build, push or list the test images")
    image_actions = images.add_subparsers(dest="action", required=True)
    image_actions.add_parser("build", help="build every recipe in fixtures/images into OCI layouts")
    image_actions.add_parser("list", help="list the recipes with their tags and digests")
    push = image_actions.add_parser("push", help="push the test images to a registry")
    push.add_argument(
        "--to", required=True, metavar="REGISTRY", help="registry host[:port], e.g. 127.0.0.1:5000"
    )
    images.set_defaults(handler=_images)

    replay = commands.add_parser(
        "replay",
        help="run a saved spec (reports/failing-specs/*.json) against a runtime again",
        description="Create the pod and containers of a spec file, check its property, clean "
        "up. Exits 0 when the property holds, 1 when it does not.",
    )
    replay.add_argument("file", metavar="FILE", help="a spec file written by a failing property")
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
    replay.set_defaults(handler=_replay)

    shim = commands.add_parser(
        "shim", help="run the reference CRI shim (same as python -m reference_shim)"
    )
    add_shim_arguments(shim)
    shim.set_defaults(handler=_shim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except Exception as error:  # one line for the user, not a traceback
        if type(error).__module__.startswith(("harness", "reference_shim")):
            print(f"cri-conformance: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
