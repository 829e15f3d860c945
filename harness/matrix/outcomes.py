"""From one pytest report to one outcome, and the report rewritten to agree with it.

Runs in the process that ran the test (a pytest-xdist worker, or the only process), where the
exception is still at hand. The verdict travels to the controller on the report itself.

Pytest's own outcome must say the same as the matrix, so CI can gate on the exit code:

- an ``unsupported`` failure (the runtime answered UNIMPLEMENTED, or the profile declares the
  feature) becomes an expected failure: pytest counts it as *xfailed*, the short summary (-ra)
  shows ``UNSUPPORTED <test> - <reason>``, JUnit writes ``<skipped type="pytest.xfail">``;
- an ``xpass`` stays passed and shows as ``XPASS <test> - <reason>``, or fails the run under
  ``--strict-profile``;
- every other failure stays a failure.
"""

from __future__ import annotations

import grpc
import pytest

from harness.client import CallFailed
from harness.matrix.cells import Outcome, State, clip
from harness.matrix.profiles import Profile
from harness.streaming.errors import ProtocolUnsupported

UNSUPPORTED_WORD = "UNSUPPORTED"


def unsupported_answer(error: BaseException) -> str | None:
    """Why the runtime declined, when ``error`` is the runtime saying it does not do this."""
    if isinstance(error, CallFailed) and error.code is grpc.StatusCode.UNIMPLEMENTED:
        return f"{error.rpc} answered UNIMPLEMENTED: {error.details}"
    if isinstance(error, ProtocolUnsupported):  # the runtime declined a streaming protocol
        return str(error)
    if isinstance(error, BaseExceptionGroup):
        answers = [unsupported_answer(inner) for inner in error.exceptions]
        if answers and all(answers):
            return "; ".join(dict.fromkeys(answer for answer in answers if answer))
    return None


def judge(
    report: pytest.TestReport, error: BaseException | None, profile: Profile | None, feature: str
) -> Outcome | None:
    """The outcome one phase of a test gives its feature; None for a passing setup/teardown."""
    declared = profile.declared(feature) if profile else None
    if report.passed:
        if report.when != "call":
            return None
        if declared is not None:
            return Outcome(State.XPASS, _declared_reason(profile, declared))
        if hasattr(report, "wasxfail"):
            return Outcome(State.XPASS, f"xfail marker: {report.wasxfail}")
        return Outcome(State.PASS)
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return Outcome(State.UNSUPPORTED, _phase(report, f"xfail marker: {report.wasxfail}"))
        return Outcome(State.SKIP, _phase(report, skip_reason(report)))
    answer = unsupported_answer(error) if error is not None else None
    if answer:
        return Outcome(State.UNSUPPORTED, _phase(report, answer))
    if declared is not None:
        reason = _declared_reason(profile, declared)
        return Outcome(State.UNSUPPORTED, reason, note=_phase(report, failure_message(report)))
    return Outcome(State.FAIL, _phase(report, failure_message(report)))


def rewrite(report: pytest.TestReport, outcome: Outcome, strict_profile: bool) -> None:
    """Make pytest's outcome agree with the cell (see the module docstring)."""
    if outcome.state is State.UNSUPPORTED and report.failed:
        detail = f"{outcome.reason} ({outcome.note})" if outcome.note else outcome.reason
        report.outcome = "skipped"
        report.wasxfail = clip(f"unsupported: {detail}")
    elif outcome.state is State.XPASS and not hasattr(report, "wasxfail"):
        if strict_profile:
            report.outcome = "failed"
            report.longrepr = (
                f"[XPASS(strict-profile)] {outcome.reason}; yet it passed: "
                "remove it from the profile"
            )
        else:
            report.wasxfail = f"{outcome.reason}; yet it passed"


def teststatus(report: pytest.TestReport, outcome: State | None) -> tuple[str, str, str] | None:
    """Pytest's category, letter and word for a report the recorder rewrote."""
    if outcome is State.UNSUPPORTED and report.skipped and hasattr(report, "wasxfail"):
        return "xfailed", "u", UNSUPPORTED_WORD
    return None


def failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    return clip(message.splitlines()[0] if message else "failed")


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return clip(str(report.longrepr))


def _declared_reason(profile: Profile | None, reason: str) -> str:
    name = profile.name if profile else "?"
    return f"declared unsupported by profile {name}: {reason}"


def _phase(report: pytest.TestReport, reason: str) -> str:
    return reason if report.when == "call" else f"at {report.when}: {reason}"
