"""Latency summaries: the percentiles critest's benchmark and the kubelet's SLOs speak of.

Nearest-rank percentiles on the sorted samples, not interpolated ones: with the few samples a
short bench takes, an interpolated p99 would be a value no call ever took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PERCENTILES = (50, 90, 99)


def percentile(samples: Sequence[float], percent: float) -> float:
    """The nearest-rank ``percent`` percentile of ``samples`` (which must not be empty)."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < percent <= 100:
        raise ValueError(f"percentile {percent} is not in (0, 100]")
    ordered = sorted(samples)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """One operation's latency, in seconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        p50, p90, p99 = (percentile(samples, percent) for percent in PERCENTILES)
        return cls(len(samples), p50, p90, p99, max(samples))


def ratio(value: float, base: float) -> float | None:
    """``value / base``, None when the base is zero (no ratio means anything then)."""
    return value / base if base > 0 else None
