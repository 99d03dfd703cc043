"""Indicators and observations: create, append, import CSV, and ask what was known when.

Observations are append-only (`welfare.records`): a revision is appended as a new
observation with a later release date. Services only flush; the caller's transaction
commits. A refused request changes nothing: every row of a batch or a CSV file is checked
before any is added.

CSV format (UTF-8, comma-separated, a header row; column order free)::

    indicator,entity,period,value,release_date,std_error,source
    lifeExp,World,2007,67.0,2009-01-01,0.3,gapminder

``std_error`` and ``source`` are optional columns and may be empty. Errors name the line
(the header is line 1), e.g. ``line 3: value 'abc' is not a number``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from welfare.errors import DuplicateIndicator, InvalidWelfareInput, UnknownIndicator
from welfare.records import Indicator, Observation
from welfare.vintage import Obs, check_period
from welfare.vintage import as_known_on as _as_known_on
from welfare.vintage import first_releases as _first_releases

MAX_ENTITY = 100
MAX_SOURCE = 200
MAX_CSV_ERRORS = 20
"""A CSV import reports at most this many line errors (then says how many more)."""

CSV_REQUIRED = ("indicator", "entity", "period", "value", "release_date")
CSV_OPTIONAL = ("std_error", "source")


@dataclass(frozen=True, slots=True)
class ObservationInput:
    """One observation to append (``period`` a year int or a period string)."""

    entity: str
    period: str | int
    value: float
    release_date: date
    std_error: float | None = None
    source: str = ""


# --- indicators -----------------------------------------------------------------------------


def create_indicator(session: Session, key: str, unit: str, description: str = "") -> Indicator:
    """Create an indicator.

    Raises:
        InvalidWelfareInput: an empty or malformed key or unit.
        DuplicateIndicator: the key is taken.
    """
    key, unit = key.strip(), unit.strip()
    if not key or len(key) > 64 or not key[0].isalpha() or not key.replace("_", "").isalnum():
        raise InvalidWelfareInput(
            f"indicator key {key!r} must start with a letter and use letters, digits and _ "
            "(at most 64 characters)"
        )
    if not unit or len(unit) > 64:
        raise InvalidWelfareInput("an indicator needs a unit of at most 64 characters")
    indicator = Indicator(key=key, unit=unit, description=description.strip())
    try:
        with session.begin_nested():
            session.add(indicator)
    except IntegrityError:
        raise DuplicateIndicator(f"an indicator with key {key!r} exists already") from None
    return indicator


def find_indicator(session: Session, key: str) -> Indicator | None:
    """The indicator with ``key``, or None."""
    return session.scalar(select(Indicator).where(Indicator.key == key))


def get_indicator(session: Session, key: str) -> Indicator:
    """The indicator with ``key``.

    Raises:
        UnknownIndicator: none has that key.
    """
    indicator = find_indicator(session, key)
    if indicator is None:
        raise UnknownIndicator(f"no indicator with key {key!r}")
    return indicator


def list_indicators(session: Session) -> list[Indicator]:
    """Every indicator, by key."""
    return list(session.scalars(select(Indicator).order_by(Indicator.key)))


# --- appending ------------------------------------------------------------------------------


def _checked(row: ObservationInput) -> tuple[str, str, float, float | None, str]:
    """Validate one observation; returns (entity, period, value, std_error, source)."""
    entity = row.entity.strip() if isinstance(row.entity, str) else ""
    if not entity or len(entity) > MAX_ENTITY:
        raise InvalidWelfareInput(f"entity must be 1 to {MAX_ENTITY} characters")
    period = check_period(row.period)
    if isinstance(row.value, bool) or not isinstance(row.value, int | float):
        raise InvalidWelfareInput(f"value {row.value!r} is not a number")
    value = float(row.value)
    if not math.isfinite(value):
        raise InvalidWelfareInput(f"value {row.value!r} is not finite")
    std_error = None
    if row.std_error is not None:
        if isinstance(row.std_error, bool) or not isinstance(row.std_error, int | float):
            raise InvalidWelfareInput(f"std_error {row.std_error!r} is not a number")
        std_error = float(row.std_error)
        if not math.isfinite(std_error) or std_error < 0:
            raise InvalidWelfareInput(f"std_error {row.std_error!r} must be finite and ≥ 0")
    if not isinstance(row.release_date, date):
        raise InvalidWelfareInput("release_date must be a date")
    source = row.source.strip()
    if len(source) > MAX_SOURCE:
        raise InvalidWelfareInput(f"source is longer than {MAX_SOURCE} characters")
    return entity, period, value, std_error, source


def append_observations(
    session: Session, indicator_key: str, rows: Sequence[ObservationInput]
) -> list[Observation]:
    """Append observations of one indicator (all or none).

    Raises:
        UnknownIndicator: no such indicator.
        InvalidWelfareInput: a row is invalid (the message names it, counting from 1).
    """
    indicator = get_indicator(session, indicator_key)
    checked = []
    for number, row in enumerate(rows, start=1):
        try:
            checked.append(_checked(row))
        except InvalidWelfareInput as exc:
            raise InvalidWelfareInput(f"observation {number}: {exc}") from None
    observations = [
        Observation(
            indicator_id=indicator.id,
            entity=entity,
            period=period,
            value=value,
            std_error=std_error,
            release_date=row.release_date,
            source=source,
        )
        for row, (entity, period, value, std_error, source) in zip(rows, checked, strict=True)
    ]
    session.add_all(observations)
    session.flush()
    return observations


def _csv_number(text: str, column: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise InvalidWelfareInput(f"{column} {text!r} is not a number") from None
    return number


def _csv_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidWelfareInput(f"release_date {text!r} is not a date (YYYY-MM-DD)") from None


def import_csv(session: Session, content: str) -> list[Observation]:
    """Append every observation in a CSV text (format in the module docstring), all or
    none.

    Raises:
        InvalidWelfareInput: a missing column, or bad lines (each error names its line; at
            most `MAX_CSV_ERRORS` are listed).
    """
    reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise InvalidWelfareInput(
            f"the CSV header must name {', '.join(CSV_REQUIRED)} (optional: "
            f"{', '.join(CSV_OPTIONAL)}); missing: {', '.join(missing)}"
        )
    unknown = [c for c in header if c not in CSV_REQUIRED + CSV_OPTIONAL]
    if unknown:
        raise InvalidWelfareInput(f"the CSV has unknown column(s): {', '.join(unknown)}")
    reader.fieldnames = header
    indicators = {i.key: i for i in list_indicators(session)}
    errors: list[str] = []
    rows: list[tuple[Indicator, ObservationInput, tuple[str, str, float, float | None, str]]] = []
    for record in reader:
        line = reader.line_num
        try:
            if None in record:
                raise InvalidWelfareInput("it has more fields than the header")
            cells = {k: (v or "").strip() for k, v in record.items()}
            key = cells["indicator"]
            if key not in indicators:
                raise InvalidWelfareInput(f"no indicator with key {key!r}")
            std_text = cells.get("std_error", "")
            row = ObservationInput(
                entity=cells["entity"],
                period=cells["period"],
                value=_csv_number(cells["value"], "value"),
                release_date=_csv_date(cells["release_date"]),
                std_error=_csv_number(std_text, "std_error") if std_text else None,
                source=cells.get("source", ""),
            )
            rows.append((indicators[key], row, _checked(row)))
        except InvalidWelfareInput as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        shown = errors[:MAX_CSV_ERRORS]
        more = len(errors) - len(shown)
        raise InvalidWelfareInput(
            "the CSV was not imported: "
            + "; ".join(shown)
            + (f"; and {more} more line(s) with errors" if more else "")
        )
    if not rows:
        raise InvalidWelfareInput("the CSV has a header but no observations")
    observations = [
        Observation(
            indicator_id=indicator.id,
            entity=entity,
            period=period,
            value=value,
            std_error=std_error,
            release_date=row.release_date,
            source=source,
        )
        for indicator, row, (entity, period, value, std_error, source) in rows
    ]
    session.add_all(observations)
    session.flush()
    return observations


# --- queries --------------------------------------------------------------------------------


def to_obs(observation: Observation, indicator_key: str) -> Obs:
    """The pure view of a stored observation (its id is the append order ``seq``)."""
    return Obs(
        indicator=indicator_key,
        entity=observation.entity,
        period=observation.period,
        value=observation.value,
        std_error=observation.std_error,
        release_date=observation.release_date,
        seq=observation.id,
        source=observation.source,
    )


def list_observations(
    session: Session,
    indicator_key: str,
    *,
    entity: str | None = None,
    period: str | int | None = None,
    released_by: date | None = None,
) -> list[Observation]:
    """Every stored release of an indicator (optionally one entity / period / released on or
    before a date), ordered by entity, period, release date, id.

    Raises:
        UnknownIndicator: no such indicator.
    """
    indicator = get_indicator(session, indicator_key)
    stmt = select(Observation).where(Observation.indicator_id == indicator.id)
    if entity is not None:
        stmt = stmt.where(Observation.entity == entity)
    if period is not None:
        stmt = stmt.where(Observation.period == check_period(period))
    if released_by is not None:
        stmt = stmt.where(Observation.release_date <= released_by)
    stmt = stmt.order_by(
        Observation.entity, Observation.period, Observation.release_date, Observation.id
    )
    return list(session.scalars(stmt))


def as_known_on(
    session: Session,
    indicator_key: str,
    on: date,
    *,
    entity: str | None = None,
    period: str | int | None = None,
) -> list[Observation]:
    """Per ``(entity, period)``, the release known on ``on`` (`welfare.vintage`)."""
    stored = list_observations(session, indicator_key, entity=entity, period=period, released_by=on)
    chosen = _as_known_on((to_obs(o, indicator_key) for o in stored), on).values()
    ids = {o.seq for o in chosen}
    return [o for o in stored if o.id in ids]


def first_releases(
    session: Session,
    indicator_key: str,
    *,
    entity: str | None = None,
    period: str | int | None = None,
) -> list[Observation]:
    """Per ``(entity, period)``, the first release (`welfare.vintage`)."""
    stored = list_observations(session, indicator_key, entity=entity, period=period)
    chosen = _first_releases(to_obs(o, indicator_key) for o in stored).values()
    ids = {o.seq for o in chosen}
    return [o for o in stored if o.id in ids]


def observations_for(session: Session, indicator_keys: Iterable[str], cutoff: date) -> list[Obs]:
    """Every observation of the given indicators released on or before ``cutoff``, as pure
    `Obs` (unknown keys are simply absent)."""
    keys = sorted(set(indicator_keys))
    if not keys:
        return []
    stmt = (
        select(Observation, Indicator.key)
        .join(Indicator, Indicator.id == Observation.indicator_id)
        .where(Indicator.key.in_(keys), Observation.release_date <= cutoff)
        .order_by(Observation.id)
    )
    return [to_obs(observation, key) for observation, key in session.execute(stmt)]
