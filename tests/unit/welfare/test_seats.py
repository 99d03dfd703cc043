"""Seat methods: equal, Penrose square root, two-factor, explicit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare.errors import InvalidWelfareInput
from welfare.seats import MAX_SEATED_MEMBERS, MAX_TOTAL_SEATS, SeatMethod, allocate_seats


def test_equal_gives_one_seat_each_whatever_the_assembly() -> None:
    assert allocate_seats("equal", populations=[5, 10**9, 0], assembly_size=800) == [1, 1, 1]


def test_penrose_follows_square_roots() -> None:
    # √ populations 1000, 2000, 3000: 600 seats split 100/200/300 exactly
    seats = allocate_seats(
        SeatMethod.PENROSE, populations=[10**6, 4 * 10**6, 9 * 10**6], assembly_size=600
    )
    assert seats == [100, 200, 300]


def test_two_factor_splits_the_assembly_between_population_and_contribution() -> None:
    # population half (5 seats, ≥ 1 each) ties 3/2 to the first; contribution half (5 seats,
    # no minimum) all to the only contributor
    seats = allocate_seats(
        "two_factor", populations=[100, 100], contributions=[0, 100], assembly_size=10
    )
    assert seats == [3, 7]


def test_two_factor_odd_assembly_gives_the_extra_seat_to_population() -> None:
    seats = allocate_seats(
        "two_factor", populations=[1, 1, 1], contributions=[1, 1, 1], assembly_size=7
    )
    # population half 4 seats: 2,1,1; contribution half 3 seats: 1,1,1
    assert seats == [3, 2, 2]


@given(
    st.lists(
        st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=30
    ).filter(lambda rows: any(c for _, c in rows)),
    st.integers(0, 500),
)
def test_two_factor_sums_exactly_with_a_seat_each(rows: list[tuple[int, int]], extra: int) -> None:
    size = 2 * len(rows) + extra
    seats = allocate_seats(
        "two_factor",
        populations=[p for p, _ in rows],
        contributions=[c for _, c in rows],
        assembly_size=size,
    )
    assert sum(seats) == size
    assert min(seats) >= 1


def test_explicit_weights_are_taken_as_written() -> None:
    assert allocate_seats("explicit", populations=[0] * 6, explicit_weights=[4, 4, 4, 2, 2, 1]) == [
        4,
        4,
        4,
        2,
        2,
        1,
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "lottery", "populations": [1]}, "one of equal, penrose"),
        ({"method": "explicit", "populations": [1, 2]}, "weight for every member"),
        (
            {"method": "explicit", "populations": [1, 2], "explicit_weights": [1, None]},
            "at least one has none",
        ),
        (
            {"method": "explicit", "populations": [1, 2], "explicit_weights": [1, 0]},
            "at least 1",
        ),
        ({"method": "two_factor", "populations": [1, 2]}, "contribution for every member"),
        (
            {"method": "two_factor", "populations": [1, 2], "contributions": [0, 0]},
            "positive contribution",
        ),
        ({"method": "penrose", "populations": [1, -2]}, "cannot be negative"),
        ({"method": "penrose", "populations": []}, "no members"),
        ({"method": "penrose", "populations": [1, 2, 3], "assembly_size": 2}, "at least 3"),
        (
            {"method": "two_factor", "populations": [1, 2, 3], "contributions": [1, 1, 1],
             "assembly_size": 4},
            "3 members need S ≥ 2·3 − 1 = 5",
        ),
        ({"method": "penrose", "populations": [1], "assembly_size": 4_001}, "4001 seats"),
        ({"method": "two_factor", "populations": [1], "contributions": [1],
          "assembly_size": 10**6}, "larger than the 4000 seats"),
        ({"method": "explicit", "populations": [1, 1], "explicit_weights": [4_000, 1]},
         "the explicit weights sum to 4001 seats, more than the 4000"),
        ({"method": "equal", "populations": [1] * 201}, "at most 200 members"),
        ({"method": "penrose", "populations": [1] * 201, "assembly_size": 800}, "would have 201"),
    ],
)  # fmt: skip
def test_refusals(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidWelfareInput, match=message):
        allocate_seats(**kwargs)  # type: ignore[arg-type]


def test_the_two_factor_method_names_the_assembly_it_really_needs() -> None:
    # 142 members (the gapminder countries): the population half ⌈S/2⌉ must give each a
    # seat, so S ≥ 2·142 − 1 = 283. 282 seats give that half 141; the message once said 142.
    populations, contributions = [10**6] * 142, [1] * 142
    with pytest.raises(InvalidWelfareInput) as info:
        allocate_seats(
            "two_factor", populations=populations, contributions=contributions, assembly_size=282
        )
    assert str(info.value) == (
        "an assembly of 282 seats cannot seat every member: the two-factor method shares "
        "⌈S/2⌉ seats by population with at least one each, so 142 members need "
        "S ≥ 2·142 − 1 = 283; send an assembly size of at least 283"
    )
    seats = allocate_seats(
        "two_factor", populations=populations, contributions=contributions, assembly_size=283
    )
    assert sum(seats) == 283
    assert min(seats) == 1  # 142 population seats, 141 contribution seats: one member has none


def test_the_largest_council_the_bounds_admit_is_seated() -> None:
    assert (MAX_SEATED_MEMBERS, MAX_TOTAL_SEATS) == (200, 4_000)
    seats = allocate_seats("penrose", populations=list(range(1, 201)), assembly_size=4_000)
    assert (len(seats), sum(seats)) == (200, 4_000)
    assert allocate_seats("equal", populations=[1] * 200) == [1] * 200
    explicit = allocate_seats("explicit", populations=[0, 0], explicit_weights=[3_999, 1])
    assert sum(explicit) == 4_000
