"""YAML parsing through libyaml when PyYAML was built with it.

Every process of a run (the controller and each pytest-xdist worker) parses the feature
registry and the runtime profile before its first test; PyYAML's pure-Python parser takes
about 0.3 s of CPU for them, its libyaml binding (``CSafeLoader``) a sixth of that, with the
same safe subset, the same nodes and the same error marks.
"""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """``yaml.safe_load``, through libyaml when available."""
    return yaml.load(text, Loader=SAFE_LOADER)


def compose(text: str) -> yaml.Node | None:
    """``yaml.compose`` with the safe loader: the node tree, with line marks."""
    return yaml.compose(text, Loader=SAFE_LOADER)
