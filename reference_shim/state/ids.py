"""Object ids: 64 lowercase hex digits, resolvable by a unique prefix as containerd allows."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from reference_shim.errors import InvalidArgument, NotFound

ID_LENGTH = 64


def new_id() -> str:
    return secrets.token_hex(ID_LENGTH // 2)


def resolve(prefix: str, known: Iterable[str], kind: str) -> str:
    """The one known id starting with ``prefix``.

    A full id matches itself; a shorter prefix must name exactly one object, else the caller
    gets NOT_FOUND (no match) or INVALID_ARGUMENT (several matches), with the prefix quoted.
    """
    if not prefix:
        raise InvalidArgument(f"{kind} id must not be empty")
    matches = [candidate for candidate in known if candidate.startswith(prefix)]
    if not matches:
        raise NotFound(f"{kind} {prefix!r} not found")
    if len(matches) > 1:
        raise InvalidArgument(
            f"{kind} id prefix {prefix!r} is ambiguous: it matches {len(matches)} objects, "
            "give more characters"
        )
    return matches[0]


def find(prefix: str, known: Iterable[str]) -> str | None:
    """Like ``resolve`` but None instead of an error, for filters and idempotent calls."""
    if not prefix:
        return None
    matches = [candidate for candidate in known if candidate.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None
