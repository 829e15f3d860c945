"""One action on each of a pod's containers (or VMs) at once, a bounded number at a time.

Stopping or removing a pod's containers one after another makes the caller wait for the sum
of their backend calls; side by side it waits for the slowest. The bound keeps a pod with
many containers from opening as many backend requests at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

MAX_AT_ONCE = 8

Item = TypeVar("Item")


def for_each(action: Callable[[Item], object], items: Sequence[Item]) -> None:
    """Run ``action`` on every item, at most ``MAX_AT_ONCE`` at a time, and return once all have
    ended. A failure never cuts the others short: the first one (in the items' order) is raised
    after every action has ended."""
    if len(items) <= 1:  # no thread for the common single-container pod
        for item in items:
            action(item)
        return
    workers = min(MAX_AT_ONCE, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pod-part") as pool:
        outcomes = [pool.submit(action, item) for item in items]
    for outcome in outcomes:
        outcome.result()
