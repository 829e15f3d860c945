"""The conformance suite; installed as ``harness.suites`` (``pytest --pyargs harness.suites``)."""
