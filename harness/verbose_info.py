"""The ``info`` map of verbose CRI answers (Status, PodSandboxStatus, ContainerStatus, ImageStatus).

The CRI API says its values should be JSON: crictl and debugging tools parse them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


def assert_json_values(rpc: str, info: Mapping[str, str]) -> None:
    """Every value of ``info`` parses as JSON; the failure names the RPC and the bad values."""
    not_json = {}
    for key, value in info.items():
        try:
            json.loads(value)
        except ValueError:
            not_json[key] = value[:200]
    assert not not_json, f"{rpc}(verbose=true) info values that are not JSON: {not_json}"
