"""The load benchmark at a size for CI: no errors, no leaks, no growth beyond its bounds.

The thorough size (200 pods at concurrency 50, 1,000 cycles) is ``python
benchmarks/shim_load.py`` with its defaults; README, "Robustness".
"""

from __future__ import annotations

from docker_shim import run_benchmark

CI_SIZE = ["--pods", "20", "--concurrency", "10", "--cycles", "50", "--warm-up", "10"]


def test_the_shim_under_load_makes_no_errors_leaks_or_growth() -> None:
    printed = run_benchmark("shim_load.py", *CI_SIZE)
    assert "20/20 pods running at once" in printed
    assert "0 errors, 0 leaks or growths" in printed
