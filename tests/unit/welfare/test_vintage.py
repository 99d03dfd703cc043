"""Vintages: the value as known on a date, and the first release."""

from __future__ import annotations

from datetime import date

import pytest

from welfare.errors import InvalidWelfareInput
from welfare.vintage import (
    Obs,
    as_known_on,
    check_period,
    first_release,
    first_releases,
    period_form,
    value_as_known_on,
)


def obs(value: float, released: date, seq: int, period: str = "2020", entity: str = "NL") -> Obs:
    return Obs("gdp", entity, period, value, None, released, seq)


SERIES = [
    obs(100.0, date(2021, 2, 1), 1),  # flash estimate
    obs(101.5, date(2021, 6, 1), 2),  # revision
    obs(101.0, date(2022, 6, 1), 3),  # benchmark revision
    obs(55.0, date(2021, 3, 1), 4, entity="BE"),
]


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2021, 1, 31), None),
        (date(2021, 2, 1), 100.0),
        (date(2021, 5, 31), 100.0),
        (date(2021, 6, 1), 101.5),
        (date(2030, 1, 1), 101.0),
    ],
)
def test_value_as_known_on_is_the_newest_release_by_that_day(
    on: date, expected: float | None
) -> None:
    found = value_as_known_on(SERIES, "gdp", "NL", "2020", on)
    assert (found.value if found else None) == expected


def test_first_release_is_the_earliest_release_whatever_came_later() -> None:
    first = first_release(SERIES, "gdp", "NL", "2020")
    assert first is not None
    assert first.value == 100.0
    assert first_release(SERIES, "gdp", "NL", "2019") is None
    assert set(first_releases(SERIES)) == {("gdp", "NL", "2020"), ("gdp", "BE", "2020")}
    assert set(first_releases(SERIES, by=date(2021, 2, 15))) == {("gdp", "NL", "2020")}


def test_a_release_date_tie_goes_to_the_later_append_as_known_and_the_earlier_first() -> None:
    same_day = [obs(1.0, date(2021, 1, 1), 7), obs(2.0, date(2021, 1, 1), 9)]
    assert as_known_on(same_day, date(2021, 1, 1))[("gdp", "NL", "2020")].value == 2.0
    assert (
        as_known_on(list(reversed(same_day)), date(2021, 1, 1))[("gdp", "NL", "2020")].value == 2.0
    )
    assert first_releases(list(reversed(same_day)))[("gdp", "NL", "2020")].value == 1.0


@pytest.mark.parametrize(
    ("raw", "canonical", "form"),
    [
        (2007, "2007", "year"),
        ("2007", "2007", "year"),
        (" 2007-Q3 ", "2007-Q3", "quarter"),
        ("2007-09", "2007-09", "month"),
        (952, "0952", "year"),
    ],
)
def test_periods_are_years_quarters_or_months(raw: str | int, canonical: str, form: str) -> None:
    assert check_period(raw) == canonical
    assert period_form(canonical) == form


@pytest.mark.parametrize(
    "raw", ["07", "2007-Q5", "2007-13", "2007-00", "2007/09", "", True, "20071"]
)
def test_other_periods_are_refused(raw: str | int) -> None:
    with pytest.raises(InvalidWelfareInput, match="period"):
        check_period(raw)
