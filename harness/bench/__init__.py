"""``cri-conformance bench``: CRI latency, throughput and list scaling of any runtime, side by side.

Modules, one job each: ``stats`` (percentiles), ``operations`` (the timed CRI calls), ``runner``
(one target's whole bench, reaching it through ``harness.targets``),
``result`` (the versioned JSON document), ``markdown`` and ``html`` (the reports), ``compare``
(the p50 gate for CI).
"""
