"""The ``spec:`` of a feature: where the rule it checks is written down.

A feature's ``basis`` says in prose why it is required or optional; its ``spec`` points at the
text a reader can check: lines of the CRI's ``api.proto``, or, where the proto is silent, the
Kubernetes code the kubelet relies on (file, function, and the commit it was read ``at``).
Each citation carries ``says``: for the proto, words copied from the cited lines
(``cri-conformance features --verify-spec api.proto`` checks them against a copy of the file);
for the kubelet, what the code does.

Every proto citation is of one pinned source tree, ``SOURCE``: line numbers move between
releases, so a citation without its version would be worse than none. Moving the pin means
checking the proto citations again with ``--verify-spec``. The project keeps no copy of
api.proto (it is Kubernetes' file); fetch the one at ``SOURCE`` to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The tree every proto citation is of: the Kubernetes repository, whose staging folder
# publishes k8s.io/cri-api. This commit is on the way to v1.36 (PullImageResponse says
# "starting with v1.36"); the copy the citations were read from carried no release tag.
SOURCE = "kubernetes/kubernetes@0268656aec06fe837312d7ec3051e6b7f3dc6cde"
PROTO = "k8s.io/cri-api/pkg/apis/runtime/v1/api.proto"
PROTO_IN_SOURCE = "staging/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto"
PROTO_LINES = 2287  # the file's length at SOURCE: a citation past it is a typo
KEYS = {"proto", "kubelet", "function", "at", "says"}
REPOSITORY = "kubernetes/kubernetes"
_LINES = re.compile(r"(\d+)(?:-(\d+))?")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_COMMENT = re.compile(r"^\s*(//+)?\s?")


class SpecError(ValueError):
    """A malformed citation; the registry loader adds the file and feature to the message."""


@dataclass(frozen=True)
class Citation:
    """One place a rule is written: proto lines (first, last) or a kubelet file and function."""

    says: str
    lines: tuple[int, int] | None = None
    kubelet: str | None = None
    function: str | None = None
    at: str | None = None

    @property
    def where(self) -> str:
        """``api.proto:28-29`` or ``kubelet pkg/kubelet/x.go Function``, for people."""
        if self.lines is not None:
            first, last = self.lines
            return f"api.proto:{first}" if first == last else f"api.proto:{first}-{last}"
        return f"kubelet {self.kubelet} {self.function} ({REPOSITORY}@{self.at})"

    def __str__(self) -> str:
        return f"{self.where}: {self.says}"


def parse(value: object) -> tuple[Citation, ...]:
    """The citations of a ``spec:`` value: a non-empty list of mappings."""
    if not isinstance(value, list) or not value:
        raise SpecError("'spec' must list citations ({proto: N-M, says: ...} or {kubelet: ...})")
    return tuple(_citation(entry) for entry in value)


def _citation(entry: object) -> Citation:
    if not isinstance(entry, dict):
        raise SpecError("each 'spec' citation must be a mapping")
    unknown = set(entry) - KEYS
    if unknown:
        raise SpecError(f"'spec' citation has unknown key(s) {', '.join(sorted(unknown))}")
    says = entry.get("says")
    if not isinstance(says, str) or not says.strip():
        raise SpecError("each 'spec' citation needs 'says': the rule's words")
    says = " ".join(says.split())
    if ("proto" in entry) == ("kubelet" in entry):
        raise SpecError("a 'spec' citation names either 'proto' lines or a 'kubelet' file")
    if "proto" in entry:
        if "function" in entry or "at" in entry:
            raise SpecError("'function' and 'at' belong to a 'kubelet' citation")
        return Citation(says, lines=_lines(entry["proto"]))
    kubelet, function, at = entry.get("kubelet"), entry.get("function"), entry.get("at")
    if not isinstance(kubelet, str) or not kubelet.endswith(".go") or "/" not in kubelet:
        raise SpecError("'kubelet' must be a Go file's path in the Kubernetes tree")
    if not isinstance(function, str) or not function.strip():
        raise SpecError("a 'kubelet' citation names the 'function' that relies on the rule")
    if not isinstance(at, str) or not _COMMIT.fullmatch(at):
        raise SpecError(f"a 'kubelet' citation names the {REPOSITORY} commit it was read 'at'")
    return Citation(says, kubelet=kubelet, function=function.strip(), at=at)


def _lines(value: object) -> tuple[int, int]:
    match = _LINES.fullmatch(str(value).strip())
    if match is None:
        raise SpecError(f"'proto' must be a line or a range N-M of {PROTO}, not {value!r}")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if not 1 <= first <= last <= PROTO_LINES:
        raise SpecError(f"'proto' {value} is outside lines 1-{PROTO_LINES} of {PROTO}")
    return first, last


def unquoted(citation: Citation, proto_text: str) -> bool:
    """True when a proto citation's ``says`` is not in its lines of ``proto_text``.

    The cited lines are read as prose: comment markers and line breaks dropped, runs of
    spaces made one; ``says`` must be a part of that text.
    """
    if citation.lines is None:
        return False
    first, last = citation.lines
    cited = proto_text.splitlines()[first - 1 : last]
    prose = " ".join(" ".join(_COMMENT.sub("", line, count=1) for line in cited).split())
    return citation.says not in prose
