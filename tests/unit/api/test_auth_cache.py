"""The per-worker caller cache: remembers found keys for its TTL, never longer, bounded."""

from __future__ import annotations

from api.auth import Caller, CallerCache
from db.identity import Role

ALICE = Caller(account_id=1, name="alice", role=Role.TRADER)
BOB = Caller(account_id=2, name="bob", role=Role.TRADER)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_is_remembered_for_the_ttl_and_then_looked_up_again() -> None:
    clock = Clock()
    cache = CallerCache(30.0, clock=clock)
    assert cache.get("h-alice") is None
    cache.put("h-alice", ALICE)
    clock.now = 129.999
    assert cache.get("h-alice") == ALICE
    clock.now = 130.0
    assert cache.get("h-alice") is None
    assert len(cache) == 0  # the expired entry is dropped


def test_a_ttl_of_zero_remembers_nothing() -> None:
    cache = CallerCache(0.0)
    cache.put("h-alice", ALICE)
    assert cache.get("h-alice") is None
    assert len(cache) == 0


def test_the_oldest_entry_goes_first_when_full_and_forget_drops_one() -> None:
    cache = CallerCache(30.0, max_entries=2, clock=Clock())
    cache.put("h-1", ALICE)
    cache.put("h-2", BOB)
    cache.put("h-3", ALICE)
    assert (cache.get("h-1"), cache.get("h-2"), cache.get("h-3")) == (None, BOB, ALICE)
    cache.forget("h-2")
    assert cache.get("h-2") is None
    assert len(cache) == 1
