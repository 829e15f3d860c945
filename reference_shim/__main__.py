"""``python -m reference_shim --socket PATH --state-dir DIR [...]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reference_shim import extra
from reference_shim.config import add_arguments, from_arguments
from reference_shim.errors import ShimError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reference_shim",
        description="Reference CRI shim: pods and containers as VMs (Apple Container's model)",
    )
    add_arguments(parser)
    config = from_arguments(parser.parse_args(argv))
    if (problem := extra.problem()) is not None:
        print(f"reference_shim: {problem}", file=sys.stderr)
        return 1
    from reference_shim.server import serve

    try:
        return serve(config)
    except (ShimError, ValueError) as error:
        print(f"reference_shim: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
