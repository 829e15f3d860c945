"""Streaming URLs are single-use and expire; anything else is a 404."""

from __future__ import annotations

import pytest

from reference_shim.streaming.tokens import Kind, Pending, RequestCache, TooManyPending


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


EXEC = Pending(Kind.EXEC, "request", "vm")


def test_a_token_works_exactly_once() -> None:
    cache = RequestCache()
    token = cache.insert(EXEC)
    assert cache.consume(token, Kind.EXEC) == EXEC
    assert cache.consume(token, Kind.EXEC) is None


def test_a_token_expires_after_its_ttl() -> None:
    clock = Clock()
    cache = RequestCache(ttl=60, clock=clock)
    fresh, stale = cache.insert(EXEC), cache.insert(EXEC)
    clock.now += 59.9
    assert cache.consume(fresh, Kind.EXEC) == EXEC
    clock.now += 0.1
    assert cache.consume(stale, Kind.EXEC) is None


def test_unknown_tokens_are_not_found() -> None:
    assert RequestCache().consume("never-issued", Kind.EXEC) is None


def test_a_token_on_the_wrong_path_is_refused_and_used_up() -> None:
    cache = RequestCache()
    token = cache.insert(EXEC)
    assert cache.consume(token, Kind.ATTACH) is None
    assert cache.consume(token, Kind.EXEC) is None


def test_tokens_are_unguessable_and_distinct() -> None:
    cache = RequestCache()
    tokens = {cache.insert(EXEC) for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(token) >= 24 and "/" not in token for token in tokens)


def test_too_many_unused_urls_are_refused_until_some_expire() -> None:
    clock = Clock()
    cache = RequestCache(ttl=60, max_in_flight=2, clock=clock)
    cache.insert(EXEC)
    cache.insert(EXEC)
    with pytest.raises(TooManyPending):
        cache.insert(EXEC)
    clock.now += 60
    assert len(cache) == 0
    cache.insert(EXEC)
