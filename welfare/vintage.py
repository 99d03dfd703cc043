"""Vintages: which release of an observation was known when (pure).

Observations are never updated: a revision of a value is a new observation of the same
``(indicator, entity, period)`` with a later ``release_date``. So "the value as known on
day X" is the observation with the newest release on or before X, and the "first release"
is the one with the earliest release date. Ties on the release date go to the observation
appended later (greater ``seq``) for "as known", and to the one appended first for "first
release" — both are deterministic.

Periods are strings in one of three forms, ``YYYY`` (a year), ``YYYY-Qn`` (a quarter) or
``YYYY-MM`` (a month); within one form, string order is time order. Periods of different
forms are never compared (a carried-forward value comes from an earlier period of the same
form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from welfare.errors import InvalidWelfareInput

_PERIOD = re.compile(r"^\d{4}(?:-Q[1-4]|-(?:0[1-9]|1[0-2]))?$")

SeriesKey = tuple[str, str, str]
"""``(indicator, entity, period)``."""


def check_period(period: str | int) -> str:
    """The period as its canonical string; an int is a year.

    Raises:
        InvalidWelfareInput: not ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``.
    """
    if isinstance(period, bool):
        raise InvalidWelfareInput(f"period {period!r} is not a year, quarter or month")
    text = f"{period:04d}" if isinstance(period, int) else str(period).strip()
    if not _PERIOD.match(text):
        raise InvalidWelfareInput(
            f"period {period!r} must be a year (2007), a quarter (2007-Q3) or a month (2007-09)"
        )
    return text


def period_form(period: str) -> str:
    """The form of a valid period: ``"year"``, ``"quarter"`` or ``"month"``."""
    if len(period) == 4:
        return "year"
    return "quarter" if "Q" in period else "month"


@dataclass(frozen=True, slots=True)
class Obs:
    """One observation as the pure code sees it.

    Attributes:
        indicator, entity, period: what was observed.
        value: in the indicator's unit.
        std_error: its standard error (same unit), or None if unknown.
        release_date: when this value was published (its vintage).
        seq: append order (the database id); breaks ties on the release date.
        source: where it came from.
    """

    indicator: str
    entity: str
    period: str
    value: float
    std_error: float | None
    release_date: date
    seq: int
    source: str = ""

    @property
    def series(self) -> SeriesKey:
        """``(indicator, entity, period)``."""
        return (self.indicator, self.entity, self.period)


def as_known_on(observations: Iterable[Obs], on: date) -> dict[SeriesKey, Obs]:
    """Per series, the newest release on or before ``on`` (later ``seq`` wins a tie)."""
    best: dict[SeriesKey, Obs] = {}
    for obs in observations:
        if obs.release_date > on:
            continue
        current = best.get(obs.series)
        if current is None or (obs.release_date, obs.seq) > (current.release_date, current.seq):
            best[obs.series] = obs
    return best


def first_releases(observations: Iterable[Obs], by: date | None = None) -> dict[SeriesKey, Obs]:
    """Per series, the earliest release (earlier ``seq`` wins a tie); if ``by`` is given,
    only series first released on or before ``by`` appear."""
    first: dict[SeriesKey, Obs] = {}
    for obs in observations:
        current = first.get(obs.series)
        if current is None or (obs.release_date, obs.seq) < (current.release_date, current.seq):
            first[obs.series] = obs
    if by is None:
        return first
    return {k: o for k, o in first.items() if o.release_date <= by}


def value_as_known_on(
    observations: Iterable[Obs], indicator: str, entity: str, period: str, on: date
) -> Obs | None:
    """The observation of one series as known on ``on``, or None if none was released."""
    return as_known_on(
        (o for o in observations if o.series == (indicator, entity, period)), on
    ).get((indicator, entity, period))


def first_release(
    observations: Iterable[Obs], indicator: str, entity: str, period: str
) -> Obs | None:
    """The first release of one series, or None if it was never observed."""
    return first_releases(o for o in observations if o.series == (indicator, entity, period)).get(
        (indicator, entity, period)
    )
