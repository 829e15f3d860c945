"""The conformance suite.

The flag makes a run of this folder write the full report set into --cri-report-dir: the matrix,
JUnit XML and Allure results (harness/matrix/recorder.py).
"""

CRI_CONFORMANCE_SUITE = True
