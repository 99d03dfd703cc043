"""Power indices by dynamic programming, against the textbook and against brute force."""

from __future__ import annotations

import itertools
import math
import time
from fractions import Fraction

import pytest
from hypothesis import given

from tests.strategies import weighted_games
from welfare.errors import InvalidWelfareInput
from welfare.power import (
    EEC_1958,
    cached_power_table,
    jagiellonian_quota,
    power_indices,
    power_table,
    quota_weight,
)
from welfare.seats import MAX_SEATED_MEMBERS, MAX_TOTAL_SEATS


def brute_force(weights: list[int], quota: int) -> tuple[list[int], list[Fraction]]:
    """Swing counts over all 2^(n-1) coalitions and SS over all n! orderings."""
    n = len(weights)
    swings = [0] * n
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for r in range(len(others) + 1):
            for coalition in itertools.combinations(others, r):
                s = sum(weights[j] for j in coalition)
                if s < quota <= s + weights[i]:
                    swings[i] += 1
    pivots = [0] * n
    for order in itertools.permutations(range(n)):
        running = 0
        for i in order:
            running += weights[i]
            if running >= quota:
                pivots[i] += 1
                break
    return swings, [Fraction(p, math.factorial(n)) for p in pivots]


def test_eec_1958_textbook_values() -> None:
    quota, weights = EEC_1958
    indices = power_indices(list(weights), quota)
    assert indices.swings == (10, 10, 10, 6, 6, 0)
    assert indices.banzhaf == tuple(Fraction(k, 21) for k in (5, 5, 5, 3, 3, 0))
    assert indices.shapley_shubik == tuple(Fraction(k, 60) for k in (14, 14, 14, 9, 9, 0))
    assert indices.banzhaf_absolute[0] == Fraction(10, 32)


def test_three_member_game_by_hand() -> None:
    # [3; 2, 1, 1]: the big member is needed by every winning coalition
    indices = power_indices([2, 1, 1], 3)
    assert indices.swings == (3, 1, 1)
    assert indices.shapley_shubik == (Fraction(2, 3), Fraction(1, 6), Fraction(1, 6))


@given(weighted_games())
def test_dynamic_programme_equals_brute_force(game: tuple[list[int], int]) -> None:
    weights, quota = game
    swings, shapley = brute_force(weights, quota)
    indices = power_indices(weights, quota)
    assert list(indices.swings) == swings
    assert list(indices.shapley_shubik) == shapley
    assert sum(indices.shapley_shubik) == 1
    assert sum(indices.banzhaf) == 1


def test_many_members_stay_exact_beyond_64_bits_and_fast() -> None:
    n = 240
    start = time.perf_counter()
    indices = power_indices([1] * n, 121)
    # equal weights: each member swings in exactly C(n−1, q−1) coalitions, ≈ 2^235
    assert indices.swings[0] == math.comb(n - 1, 120)
    assert indices.swings[0] > 2**200
    assert indices.shapley_shubik == tuple([Fraction(1, n)] * n)

    weights = [1 + (7 * i) % 13 for i in range(n)]  # 240 members, 1..13 seats, 1 680 in all
    total = sum(weights)
    table = power_table(weights, quota_weight(total, Fraction(1, 2)))
    assert sum(row.shapley_shubik for row in table.rows) == 1
    assert sum(row.banzhaf for row in table.rows) == 1
    by_weight: dict[int, set[Fraction]] = {}
    for row in table.rows:
        by_weight.setdefault(row.weight, set()).add(row.shapley_shubik)
    assert all(len(values) == 1 for values in by_weight.values())  # equal seats, equal power
    ordered = [next(iter(by_weight[w])) for w in sorted(by_weight)]
    assert ordered == sorted(ordered)  # more seats never means less power
    assert time.perf_counter() - start < 10.0


def test_power_table_rows_put_weight_share_beside_power() -> None:
    table = power_table([4, 4, 4, 2, 2, 1], 12)
    assert table.total_weight == 17
    lux = table.rows[5]
    assert (lux.index, lux.weight, lux.weight_share) == (5, 1, Fraction(1, 17))
    assert (lux.banzhaf, lux.shapley_shubik, lux.swings) == (Fraction(0), Fraction(0), 0)


def test_members_with_no_weight_have_no_power() -> None:
    indices = power_indices([0, 3, 2], 3)
    assert indices.swings[0] == 0
    assert indices.shapley_shubik[0] == 0


def test_a_member_at_the_quota_alone_is_a_dictator() -> None:
    indices = power_indices([5, 1, 1], 5)
    assert indices.banzhaf == (Fraction(1), Fraction(0), Fraction(0))
    assert indices.shapley_shubik == (Fraction(1), Fraction(0), Fraction(0))


def test_quota_weight_is_strictly_more_than_the_share() -> None:
    assert quota_weight(800, Fraction(1, 2)) == 401
    assert quota_weight(17, Fraction(2, 3)) == 12
    assert quota_weight(800, 0.0) == 1
    with pytest.raises(InvalidWelfareInput, match=r"\[0, 1\)"):
        quota_weight(800, 1)


def test_jagiellonian_quota() -> None:
    # n equal constituencies: ½(1 + √(nN)/(n√N)) = ½(1 + 1/√n)
    assert jagiellonian_quota([10**6] * 4) == pytest.approx(0.75)
    assert jagiellonian_quota([10**6] * 100) == pytest.approx(0.55)
    assert jagiellonian_quota([7]) == pytest.approx(1.0)
    with pytest.raises(InvalidWelfareInput, match="positive population"):
        jagiellonian_quota([0, 0])


@pytest.mark.parametrize(
    ("weights", "quota", "message"),
    [
        ([], 1, "at least one member"),
        ([1, 2], 0, "between 1 and the total weight 3"),
        ([1, 2], 4, "between 1 and the total weight 3"),
        ([1, -2], 1, "negative"),
    ],
)
def test_refusals(weights: list[int], quota: int, message: str) -> None:
    with pytest.raises(InvalidWelfareInput, match=message):
        power_indices(weights, quota)


def test_a_high_quota_counts_the_complements_with_the_same_result() -> None:
    # [13; 4, 4, 4, 2, 2, 1] (17 seats): the cut is min(13, 17 − 13 + 1) = 5, so the
    # programme counts the losing complements; brute force agrees. The member of one seat
    # swings in the 4 coalitions of the others weighing exactly 12: {4, 4, 4} and the
    # three {4, 4, 2, 2}
    weights = [4, 4, 4, 2, 2, 1]
    swings, shapley = brute_force(weights, 13)
    indices = power_indices(weights, 13)
    assert list(indices.swings) == swings == [8, 8, 8, 4, 4, 4]
    assert list(indices.shapley_shubik) == shapley


def test_the_largest_council_the_bounds_admit_computes_its_table_within_a_second() -> None:
    # 200 members, 4 000 seats, as many distinct seat counts as fit (1, 2, …, 86 and then
    # ones), at the threshold ½, the slowest quota (the cut is then W/2): about 0.7 s on the
    # project's 2-core machine; the guard allows for a busy one
    weights = list(range(1, 87)) + [1] * (MAX_SEATED_MEMBERS - 86)
    weights[-1] += MAX_TOTAL_SEATS - sum(weights)
    assert (len(weights), sum(weights)) == (200, 4_000)
    start = time.perf_counter()
    table = power_table(weights, quota_weight(4_000, Fraction(1, 2)))
    elapsed = time.perf_counter() - start
    assert sum(row.shapley_shubik for row in table.rows) == 1
    assert elapsed < 5.0, f"{elapsed:.2f} s"


def test_the_cached_table_is_the_table_and_a_new_game_is_computed_anew() -> None:
    cached_power_table.cache_clear()
    table = cached_power_table((4, 4, 4, 2, 2, 1), 12)
    assert table == power_table([4, 4, 4, 2, 2, 1], 12)
    assert cached_power_table((4, 4, 4, 2, 2, 1), 12) is table
    assert cached_power_table((4, 4, 4, 2, 2, 1), 13) is not table
    info = cached_power_table.cache_info()
    assert (info.hits, info.misses) == (1, 2)
