"""Webster/Sainte-Laguë apportionment: exact sums, minimum seats, exact square roots, ties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.apportion import apportion, apportion_sqrt, apportion_squares
from welfare.errors import InvalidWelfareInput


def reference_webster(weights: list[int], seats: int, minimum: int = 1) -> list[int]:
    """Highest averages written the slow, obvious way: every seat to max v/(2s+1)."""
    allocation = [minimum] * len(weights)
    for _ in range(seats - minimum * len(weights)):
        best = max(
            range(len(weights)),
            key=lambda i: (Fraction(weights[i], 2 * allocation[i] + 1), -i),
        )
        allocation[best] += 1
    return allocation


def test_textbook_sainte_lague_eight_seats() -> None:
    # 100 000 / 80 000 / 30 000 / 20 000 votes for 8 seats: D'Hondt gives 4, 3, 1, 0 and
    # Sainte-Laguë 3, 3, 1, 1 (quotients 100k, 80k, 33.3k, 30k, 26.7k, 20k, 20k, 16k…).
    assert apportion([100_000, 80_000, 30_000, 20_000], 8, minimum=0) == [3, 3, 1, 1]


def test_minimum_of_one_seat_goes_first() -> None:
    assert apportion([1000, 1, 1], 10) == [8, 1, 1]
    assert apportion([1000, 1, 1], 10, minimum=0) == [10, 0, 0]


def test_exact_ties_go_to_the_member_listed_first() -> None:
    assert apportion([1, 1], 3) == [2, 1]
    assert apportion([5, 5, 5], 4) == [2, 1, 1]
    assert apportion_sqrt([4, 4, 1], 5) == [2, 2, 1]


def test_square_roots_are_exact_not_floats() -> None:
    # √2·10^8 vs √(2·10^16 + 1): floats cannot tell the two weights apart, exact squares can.
    big = 2 * 10**16
    assert apportion_sqrt([big + 1, big], 3) == [2, 1]
    assert apportion_sqrt([big, big + 1], 3) == [1, 2]


@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(lambda w: any(w)),
    st.integers(0, 200),
)
def test_matches_the_slow_reference_and_sums_exactly(weights: list[int], extra: int) -> None:
    seats = len(weights) + extra
    result = apportion(weights, seats)
    assert result == reference_webster(weights, seats)
    assert sum(result) == seats
    assert min(result) >= 1


@given(
    st.lists(st.integers(0, 10**10), min_size=1, max_size=40).filter(lambda p: any(p)),
    st.integers(0, 800),
)
def test_penrose_sums_to_the_assembly_each_member_seated_and_monotone(
    populations: list[int], extra: int
) -> None:
    seats = len(populations) + extra
    result = apportion_sqrt(populations, seats)
    assert sum(result) == seats
    assert min(result) >= 1
    for i in range(len(populations)):
        for j in range(len(populations)):
            if populations[i] > populations[j]:
                assert result[i] >= result[j]
            # divisor-method optimality: the last seat i received had a priority at least that
            # of j's next seat, N_i / (2s_i − 1)² ≥ N_j / (2s_j + 1)²
            if result[i] > 1:
                lhs = populations[i] * (2 * result[j] + 1) ** 2
                assert lhs >= populations[j] * (2 * result[i] - 1) ** 2


@given(st.lists(st.integers(1, 10**4), min_size=1, max_size=10), st.integers(0, 100))
def test_sqrt_of_perfect_squares_equals_linear_apportionment(roots: list[int], extra: int) -> None:
    seats = len(roots) + extra
    assert apportion_sqrt([r * r for r in roots], seats) == apportion(roots, seats)


def test_fractions_are_accepted() -> None:
    assert apportion_squares([Fraction(1, 4), Fraction(1, 4)], 2) == [1, 1]
    assert apportion([Fraction(3, 2), Fraction(1, 2)], 4, minimum=0) == [3, 1]


def test_the_default_assembly_has_800_seats() -> None:
    assert sum(apportion_sqrt([10**6, 4 * 10**6, 9 * 10**6])) == 800


@pytest.mark.parametrize(
    ("weights", "seats", "message"),
    [
        ([1, 2, 3], 2, "at least 3 seats"),
        ([], 5, "no members"),
        ([1, -2], 5, "negative"),
        ([0, 0], 5, "every member's weight is zero"),
        ([1.5, 2], 5, "exact integers or fractions"),
        ([1, 2], 10**6, "larger than the limit"),
    ],
)
def test_refusals_say_what_is_wrong(weights: list[int], seats: int, message: str) -> None:
    with pytest.raises(InvalidWelfareInput, match=message):
        apportion(weights, seats)


def test_all_zero_weights_are_fine_when_only_the_minimum_is_given() -> None:
    assert apportion([0, 0], 2) == [1, 1]
