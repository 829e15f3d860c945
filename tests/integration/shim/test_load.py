"""The load benchmark at a size for CI: no errors, no leaks, no growth beyond its bounds.

The thorough size (200 pods at concurrency 50, 1,000 cycles) is ``python
benchmarks/shim_load.py`` with its defaults; README, "Robustness".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).parents[3] / "benchmarks" / "shim_load.py"
CI_SIZE = ["--pods", "20", "--concurrency", "10", "--cycles", "50", "--warm-up", "10"]


def test_the_shim_under_load_makes_no_errors_leaks_or_growth() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), *CI_SIZE],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(result.stdout)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "20/20 pods running at once" in result.stdout
    assert "0 errors, 0 leaks or growths" in result.stdout
