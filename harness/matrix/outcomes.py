"""From one pytest report to one outcome, and the report rewritten to agree with it.

Runs in the process that ran the test (a pytest-xdist worker, or the only process), where the
exception is still at hand. The verdict travels to the controller on the report itself.

What a failure may be excused as, in order:

1. The profile declares the feature: a failure that matches the entry's ``expect`` is
   *unsupported* (an optional feature) or a *deviation* (a required one); any other failure is
   a failure that names both the declaration and what happened.
2. The runtime refused: gRPC UNIMPLEMENTED from one of the feature's own ``calls``, a
   negotiated streaming refusal, or a feature the runtime does not offer by its own Status (a
   refusal of what it does not advertise, a field it predates: ``harness.advertised``) makes
   an optional feature (or one alternative of a ``one_of`` group) *unsupported*. From any
   other call (say RunPodSandbox while testing logs), or for a required feature, it is a
   failure, and the message says why it was not excused.
3. Anything else is a failure.

Pytest's own outcome must say the same as the matrix, so CI can gate on the exit code: an
unsupported or deviation failure becomes an expected failure (pytest counts it as *xfailed*,
the short summary shows ``UNSUPPORTED``/``DEVIATION <test> - <reason>``, JUnit writes
``<skipped type="pytest.xfail">``); an ``xpass`` stays passed and shows as ``XPASS``, or fails
the run under ``--cri-strict-profile``; every other failure stays a failure.
"""

from __future__ import annotations

import grpc
import pytest

from harness.advertised import NotOffered
from harness.client import CallFailed
from harness.features import Feature
from harness.matrix.cells import Outcome, State, clip
from harness.matrix.profiles import Declaration, Profile
from kube_streaming.errors import ProtocolUnsupported

EXCUSED_WORDS = {State.UNSUPPORTED: "UNSUPPORTED", State.DEVIATION: "DEVIATION"}


def refusals(error: BaseException) -> list[BaseException]:
    """The runtime's 'I do not do this' answers inside ``error``; empty when any part is not one.

    An exception group (several calls failed at once) counts only when every part is a refusal.
    """
    if isinstance(error, CallFailed) and error.code is grpc.StatusCode.UNIMPLEMENTED:
        return [error]
    if isinstance(error, ProtocolUnsupported | NotOffered):
        return [error]
    if isinstance(error, BaseExceptionGroup):
        parts = [refusals(inner) for inner in error.exceptions]
        if parts and all(parts):
            return [refusal for part in parts for refusal in part]
    return []


def excused_refusal(error: BaseException, feature: Feature) -> tuple[str | None, str]:
    """(why it is unsupported, None) or (None, why the refusal is no excuse) for a refusal."""
    found = refusals(error)
    if not found:
        return None, ""
    described = "; ".join(dict.fromkeys(_describe(refusal) for refusal in found))
    if not feature.excusable:
        return None, (
            f"{described}, but {feature.id} is required (what the kubelet needs from every "
            "CRI v1 runtime), so a refusal is a failure"
        )
    foreign = sorted(
        {
            r.rpc
            for r in found
            if isinstance(r, CallFailed | NotOffered) and r.rpc not in feature.calls
        }
    )
    if foreign:
        return None, (
            f"{described}, but {', '.join(foreign)} is not a call of {feature.id} "
            f"({', '.join(feature.calls)}): a refused set-up call is a failure"
        )
    return described, ""


def judge(
    report: pytest.TestReport,
    error: BaseException | None,
    profile: Profile | None,
    feature: Feature,
) -> Outcome | None:
    """The outcome one phase of a test gives its feature; None for a passing setup/teardown."""
    declared = profile.declared(feature.id) if profile else None
    if report.passed:
        if report.when != "call":
            return None
        if declared is not None and declared.intermittent:
            reason = f"{_declared(profile, declared)}; it passed this time"
            return Outcome(State.PASS, reason, intermittent=True)
        if declared is not None:
            return Outcome(State.XPASS, _declared(profile, declared))
        if hasattr(report, "wasxfail"):
            return Outcome(State.XPASS, f"xfail marker: {report.wasxfail}")
        return Outcome(State.PASS)
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return Outcome(State.FAIL, _phase(report, f"xfail marker: {report.wasxfail}"))
        return Outcome(State.SKIP, _phase(report, skip_reason(report)))
    failure = _phase(report, failure_message(report))
    if declared is not None:
        return _judge_declared(profile, declared, failure, failure_text(report))
    unsupported, refused = excused_refusal(error, feature) if error else (None, "")
    if unsupported:
        return Outcome(State.UNSUPPORTED, _phase(report, unsupported))
    return Outcome(State.FAIL, _phase(report, refused) if refused else failure)


def _judge_declared(
    profile: Profile | None, declared: Declaration, failure: str, text: str
) -> Outcome:
    reason = _declared(profile, declared)
    if declared.matches(text):
        state = State.DEVIATION if declared.deviation else State.UNSUPPORTED
        return Outcome(state, reason, failure=failure, intermittent=declared.intermittent)
    expected = f"the profile declares it, expecting /{declared.expect.pattern}/"
    return Outcome(State.FAIL, clip(f"{failure} ({expected}: {reason})"))


def rewrite(report: pytest.TestReport, outcome: Outcome, strict_profile: bool) -> None:
    """Make pytest's outcome agree with the cell (see the module docstring)."""
    word = EXCUSED_WORDS.get(outcome.state)
    if word and report.failed:
        detail = f"{outcome.reason} ({outcome.failure})" if outcome.failure else outcome.reason
        report.outcome = "skipped"
        report.wasxfail = clip(f"{word.lower()}: {detail}")
    elif outcome.state is State.XPASS and not hasattr(report, "wasxfail"):
        if strict_profile:
            report.outcome = "failed"
            report.longrepr = (
                f"[XPASS(strict-profile)] {outcome.reason}; yet it passed: "
                "remove it from the profile"
            )
        else:
            report.wasxfail = f"{outcome.reason}; yet it passed"
    elif outcome.state is State.FAIL and report.skipped and hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"{outcome.reason}: an xfail marker cannot excuse a conformance test"


def teststatus(report: pytest.TestReport, outcome: State | None) -> tuple[str, str, str] | None:
    """Pytest's category, letter and word for a report the recorder rewrote."""
    word = EXCUSED_WORDS.get(outcome) if outcome else None
    if word and report.skipped and hasattr(report, "wasxfail"):
        return "xfailed", word[0].lower(), word
    return None


def failure_text(report: pytest.TestReport) -> str:
    """The whole failure a profile's ``expect`` is matched against: exception and message."""
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash is not None else str(report.longrepr)


def failure_message(report: pytest.TestReport) -> str:
    message = failure_text(report)
    return clip(message.splitlines()[0] if message else "failed")


def skip_reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return clip(str(report.longrepr))


def _describe(refusal: BaseException) -> str:
    if isinstance(refusal, CallFailed):
        return f"{refusal.rpc} answered UNIMPLEMENTED: {refusal.details}"
    return str(refusal)


def _declared(profile: Profile | None, declared: Declaration) -> str:
    name = profile.name if profile else "?"
    if declared.deviation:
        kind = "an intermittent deviation" if declared.intermittent else "a deviation"
    else:
        kind = "intermittently unsupported" if declared.intermittent else "unsupported"
    return f"declared {kind} by profile {name}: {declared.reason}"


def _phase(report: pytest.TestReport, reason: str) -> str:
    return reason if report.when == "call" else f"at {report.when}: {reason}"
