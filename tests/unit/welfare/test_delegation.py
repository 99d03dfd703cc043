"""Delegation chains, direct votes overriding delegation, cycles and dead ends."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.strategies import delegation_graphs
from welfare.delegation import resolve
from welfare.errors import InvalidWelfareInput


def test_a_chain_reaches_the_first_voter() -> None:
    result = resolve("abcd", {"c"}, {"a": "b", "b": "c", "d": "a"})
    assert result.representative == {"a": "c", "b": "c", "c": "c", "d": "c"}
    assert not result.dangling
    assert not result.cyclic


def test_a_direct_vote_overrides_ones_own_delegation() -> None:
    result = resolve("ab", {"a", "b"}, {"a": "b"})
    assert result.representative == {"a": "a", "b": "b"}


def test_a_chain_stops_at_an_intermediate_voter() -> None:
    result = resolve("abc", {"b", "c"}, {"a": "b", "b": "c"})
    assert result.representative == {"a": "b", "b": "b", "c": "c"}


def test_a_cycle_is_lost_with_everyone_leading_into_it() -> None:
    result = resolve("abcd", {"d"}, {"a": "b", "b": "a", "c": "a"})
    assert result.representative == {"d": "d"}
    assert result.cyclic == {"a", "b", "c"}


def test_a_chain_to_someone_who_neither_votes_nor_delegates_is_lost() -> None:
    result = resolve([1, 2, 3], {3}, {1: 2})
    assert result.representative == {3: 3}
    assert result.dangling == {1, 2}


def test_integer_member_ids_are_never_confused_with_markers() -> None:
    result = resolve([1, 2], {1, 2}, {})
    assert result.representative == {1: 1, 2: 2}


def naive_representative(m: int, voters: set[int], delegations: dict[int, int]) -> int | None:
    current = m
    for _ in range(len(delegations) + 2):
        if current in voters:
            return current
        if current not in delegations:
            return None
        current = delegations[current]
    return None  # went round a cycle


@given(delegation_graphs())
def test_every_member_counted_at_most_once_by_the_right_voter(
    graph: tuple[list[int], set[int], dict[int, int]],
) -> None:
    members, voters, delegations = graph
    result = resolve(members, voters, delegations)
    for m in members:
        expected = naive_representative(m, voters, delegations)
        assert result.representative.get(m) == expected
        lost_in = (m in result.dangling) + (m in result.cyclic) + (m in result.representative)
        assert lost_in == 1
    assert set(result.representative.values()) <= voters
    assert all(result.representative[v] == v for v in voters)


@pytest.mark.parametrize(
    ("voters", "delegations", "message"),
    [
        ({"z"}, {}, "voted but is not a member"),
        (set(), {"a": "z"}, "not between members"),
        (set(), {"a": "a"}, "cannot delegate to itself"),
    ],
)
def test_refusals(voters: set[str], delegations: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidWelfareInput, match=message):
        resolve("ab", voters, delegations)
