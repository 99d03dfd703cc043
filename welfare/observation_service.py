"""Indicators and observations: create, append, import CSV, and ask what was known when.

Observations are append-only (`welfare.records`): a revision is appended as a new
observation with a later release date. Services only flush; the caller's transaction
commits. A refused request changes nothing: a JSON batch is checked before any row is
added, and a CSV import that meets a bad line raises, so the caller's transaction rolls
back the batches it had inserted.

Values are bounded: ``|value| ≤ MAX_ABS_VALUE`` (1e15, in the indicator's unit) and
``0 ≤ std_error ≤ MAX_ABS_VALUE``, both finite. No real indicator comes near (world GDP is
about 1e14 USD), and the bound keeps every aggregate a metric computes far from overflow.

CSV format (UTF-8, comma-separated, a header row; column order free)::

    indicator,entity,period,value,release_date,std_error,source
    lifeExp,World,2007,67.0,2009-01-01,0.3,gapminder

``std_error`` and ``source`` are optional columns and may be empty. Numbers are written in
decimal (``67``, ``-0.5``, ``1.2e9``; not ``nan``, ``inf`` or ``1_000``). No cell may hold
a control character (tab, NUL, …). A cell that a spreadsheet would read as a formula
(``=…``, ``+…``, ``-…``, ``@…``) is stored as text, exactly as sent: nothing here evaluates
it, and the CSV export neutralises it. Errors name the line (the header is line 1), e.g.
``line 3: value 'abc' is not a number``.

The import streams: it reads the text a line at a time and inserts `CSV_BATCH` rows per
statement, so its memory does not grow with the file. Reads are pages in id order (the
convention of `db.paging`), each one SQL query returning at most ``limit`` rows.

Audit: creating an indicator appends ``indicator.created``, and every stored observation
appears, with its id, in an ``observations.appended`` event of the governance stream
(`db.audit`), at most `AUDIT_CHUNK` observations per event, in the same transaction. A CSV
import appends its events once every line is stored, reading the rows back a chunk at a
time (it keeps only their ids, as a few spans): its memory stays one batch however long
the file, and it takes the governance stream's head last, as every change does, instead of
holding it while the file is read.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar, cast

from sqlalchemy import Select, and_, bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from db import audit
from db.paging import DEFAULT_PAGE
from db.text import control_character
from welfare.errors import DuplicateIndicator, InvalidWelfareInput, UnknownIndicator
from welfare.records import Indicator, Observation
from welfare.vintage import Obs, check_period

MAX_ENTITY = 100
MAX_SOURCE = 200
MAX_KEY = 64
MAX_ABS_VALUE = 1e15
"""Largest magnitude of an observation's value and standard error (its indicator's unit)."""
MAX_CSV_ERRORS = 20
"""A CSV import reports at most this many line errors (then says how many more)."""
CSV_BATCH = 5_000
"""Rows a CSV import inserts per statement (one executemany)."""
MAX_UNKNOWN_KEYS = 1_000
"""Unknown indicator keys a CSV import remembers, so a file of misses asks the database
about each distinct key once, up to this many."""
AUDIT_CHUNK = 1_000
"""Most observations one ``observations.appended`` audit event lists."""
AUDIT_COLUMNS = (
    "id",
    "indicator",
    "entity",
    "period",
    "value",
    "std_error",
    "release_date",
    "source",
)
"""The fields of each row of an ``observations.appended`` event, in order."""

CSV_REQUIRED = ("indicator", "entity", "period", "value", "release_date")
CSV_OPTIONAL = ("std_error", "source")

T = TypeVar("T")

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class ObservationInput:
    """One observation to append (``period`` a year int or a period string)."""

    entity: str
    period: str | int
    value: float
    release_date: date
    std_error: float | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class CsvImport:
    """What a CSV import appended: ``imported`` rows, ``by_indicator`` key → rows."""

    imported: int
    by_indicator: dict[str, int]


# --- indicators -----------------------------------------------------------------------------


def create_indicator(session: Session, key: str, unit: str, description: str = "") -> Indicator:
    """Create an indicator.

    Raises:
        InvalidWelfareInput: an empty or malformed key or unit.
        DuplicateIndicator: the key is taken.
    """
    key, unit = key.strip(), unit.strip()
    if not key or len(key) > MAX_KEY or not key[0].isalpha() or not key.replace("_", "").isalnum():
        raise InvalidWelfareInput(
            f"indicator key {key!r} must start with a letter and use letters, digits and _ "
            f"(at most {MAX_KEY} characters)"
        )
    if not unit or len(unit) > 64:
        raise InvalidWelfareInput("an indicator needs a unit of at most 64 characters")
    indicator = Indicator(key=key, unit=unit, description=description.strip())
    try:
        with session.begin_nested():
            session.add(indicator)
    except IntegrityError:
        raise DuplicateIndicator(f"an indicator with key {key!r} exists already") from None
    audit.record(
        session,
        "indicator.created",
        {
            "indicator_id": indicator.id,
            "key": indicator.key,
            "unit": indicator.unit,
            "description": indicator.description,
        },
    )
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
        raise UnknownIndicator(f"no indicator with key {_shown(key)}")
    return indicator


def list_indicators(session: Session) -> list[Indicator]:
    """Every indicator, by key: the catalogue an admin defines (a handful of rows). The API
    pages it with `indicator_page`."""
    return list(session.scalars(select(Indicator).order_by(Indicator.key)))


def indicator_page(
    session: Session, *, after_id: int = 0, limit: int = DEFAULT_PAGE
) -> list[Indicator]:
    """Indicators with ``id > after_id``, by id, at most ``limit`` (`db.paging`)."""
    stmt = select(Indicator).where(Indicator.id > after_id).order_by(Indicator.id).limit(limit)
    return list(session.scalars(stmt))


# --- appending ------------------------------------------------------------------------------


def _shown(text: str, most: int = 40) -> str:
    """``text`` quoted for an error message, cut to ``most`` characters."""
    return repr(text if len(text) <= most else text[:most] + "…")


def _bounded(number: float, column: str) -> float:
    """``number`` if finite and ``|number| ≤ MAX_ABS_VALUE``."""
    if not math.isfinite(number):
        raise InvalidWelfareInput(f"{column} {number!r} is not finite; send a finite number")
    if abs(number) > MAX_ABS_VALUE:
        raise InvalidWelfareInput(f"{column} {number!r} must lie between -1e15 and 1e15")
    return number


def _entity(entity: object) -> str:
    text = entity.strip() if isinstance(entity, str) else ""
    if not text or len(text) > MAX_ENTITY:
        raise InvalidWelfareInput(f"entity must be 1 to {MAX_ENTITY} characters")
    _printable(text, "entity")
    return text


def _value(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidWelfareInput(f"value {value!r} is not a number")
    return _bounded(float(value), "value")


def _std_error(std_error: object) -> float | None:
    if std_error is None:
        return None
    if isinstance(std_error, bool) or not isinstance(std_error, int | float):
        raise InvalidWelfareInput(f"std_error {std_error!r} is not a number")
    number = float(std_error)
    if not math.isfinite(number) or not 0 <= number <= MAX_ABS_VALUE:
        raise InvalidWelfareInput(f"std_error {std_error!r} must be finite and ≥ 0 (at most 1e15)")
    return number


def _release_date(released: object) -> date:
    if not isinstance(released, date):
        raise InvalidWelfareInput("release_date must be a date")
    return released


def _source(source: object) -> str:
    text = source.strip() if isinstance(source, str) else ""
    if len(text) > MAX_SOURCE:
        raise InvalidWelfareInput(f"source is longer than {MAX_SOURCE} characters")
    _printable(text, "source")
    return text


def _printable(text: str, name: str) -> None:
    found = control_character(text)
    if found is not None:
        raise InvalidWelfareInput(
            f"{name} holds the control character {found}; send printable text"
        )


class _Problems:
    """Every problem of one observation, so one message lists them all."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, check: Callable[[Any], T], value: object) -> T | None:
        """``check(value)``, or None after noting the problem it raised."""
        try:
            return check(value)
        except InvalidWelfareInput as exc:
            self.found.append(str(exc))
            return None

    def refusal(self) -> InvalidWelfareInput | None:
        """One error listing every problem (``a, b and c``), or None."""
        if not self.found:
            return None
        *rest, last = self.found
        return InvalidWelfareInput(f"{', '.join(rest)} and {last}" if rest else last)


_Checked = tuple[str, str, float, float | None, date, str]
"""(entity, period, value, std_error, release_date, source), validated."""


def _checked(row: ObservationInput) -> _Checked:
    """Validate one observation; the error lists every problem it has."""
    problems = _Problems()
    entity = problems.check(_entity, row.entity)
    period = problems.check(check_period, row.period)
    value = problems.check(_value, row.value)
    std_error = problems.check(_std_error, row.std_error)
    released = problems.check(_release_date, row.release_date)
    source = problems.check(_source, row.source)
    refusal = problems.refusal()
    if refusal is not None:
        raise refusal
    return cast(_Checked, (entity, period, value, std_error, released, source))


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
            release_date=released,
            source=source,
        )
        for entity, period, value, std_error, released, source in checked
    ]
    session.add_all(observations)
    session.flush()
    _record_appended(
        session,
        [
            (
                o.id,
                indicator.key,
                o.entity,
                o.period,
                o.value,
                o.std_error,
                o.release_date,
                o.source,
            )
            for o in observations
        ],
    )
    return observations


_Stored = tuple[int, str, str, str, float, float | None, date, str]
"""An observation as its audit event lists it, in the order of `AUDIT_COLUMNS`."""


def _record_appended(session: Session, stored: Sequence[_Stored]) -> None:
    """Append ``observations.appended`` events listing ``stored``, `AUDIT_CHUNK` per event."""
    entries = []
    for start in range(0, len(stored), AUDIT_CHUNK):
        rows = [
            [id_, key, entity, period, value, std_error, released.isoformat(), source]
            for id_, key, entity, period, value, std_error, released, source in stored[
                start : start + AUDIT_CHUNK
            ]
        ]
        entries.append(("observations.appended", {"columns": list(AUDIT_COLUMNS), "rows": rows}))
    audit.append_governance(session, entries)


class _Spans:
    """Ids as ascending, disjoint ``[first, last]`` spans (contiguous ids merge), so the ids of
    a whole import take a few numbers."""

    def __init__(self) -> None:
        self.spans: list[list[int]] = []

    def add(self, ids: Iterable[int]) -> None:
        for id_ in ids:
            if self.spans and id_ == self.spans[-1][1] + 1:
                self.spans[-1][1] = id_
            else:
                self.spans.append([id_, id_])


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert checked observation rows (one executemany) with ids taken first
    (`_new_ids`); return the ids, in the rows' order (each row gains its ``id``).

    Taking the ids first costs one round trip; an ``INSERT … RETURNING`` that keeps the
    rows' order costs three to eight times the insert itself (measured on 100 000 rows).
    """
    ids = _new_ids(session, len(rows))
    for row, id_ in zip(rows, ids, strict=True):
        row["id"] = id_
    session.execute(insert(Observation), rows)
    return ids


def _record_stored(session: Session, spans: _Spans) -> None:
    """Append the ``observations.appended`` events of the observations with ids in
    ``spans``, read back from the database by id, `AUDIT_CHUNK` rows per query and event:
    the events state what is stored, and memory holds one chunk at a time."""
    stmt = (
        select(
            Observation.id,
            Indicator.key,
            Observation.entity,
            Observation.period,
            Observation.value,
            Observation.std_error,
            Observation.release_date,
            Observation.source,
        )
        .join(Indicator, Indicator.id == Observation.indicator_id)
        .where(Observation.id > bindparam("after"), Observation.id <= bindparam("last"))
        .order_by(Observation.id)
        .limit(AUDIT_CHUNK)
    )
    for first, last in spans.spans:
        after = first - 1
        while after < last:
            page = [
                cast(_Stored, tuple(row))
                for row in session.execute(stmt, {"after": after, "last": last})
            ]
            if not page:
                break
            _record_appended(session, page)
            after = page[-1][0]


def store_observations(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert observation rows already checked and append their ``observations.appended``
    events; return how many were stored.

    Args:
        rows: insert parameters: ``indicator_id``, ``entity``, ``period``, ``value``,
            ``std_error``, ``release_date``, ``source`` (each row gains its ``id``).
    """
    if not rows:
        return 0
    spans = _Spans()
    spans.add(_insert(session, rows))
    _record_stored(session, spans)
    return len(rows)


def _new_ids(session: Session, count: int) -> list[int]:
    """``count`` unused observation ids, ascending.

    PostgreSQL: drawn from the id column's sequence in one round trip (an array of
    ``nextval``), so concurrent writers never share one. SQLite: the ``count`` rowids after
    the largest, which SQLite itself would assign next; a write transaction holds the
    database's write lock from its ``BEGIN IMMEDIATE`` (`db.session`), so no other writer
    can take them before the rows are inserted.
    """
    if session.get_bind().dialect.name == "postgresql":
        drawn = session.scalar(
            text(
                "SELECT array_agg(nextval(pg_get_serial_sequence('observation', 'id'))) "
                "FROM generate_series(1, :count)"
            ),
            {"count": count},
        )
        return sorted(drawn)
    largest = session.scalar(select(func.max(Observation.id))) or 0
    return list(range(largest + 1, largest + 1 + count))


# --- CSV import -----------------------------------------------------------------------------


def _csv_decimal(text: str, column: str) -> float:
    """A cell written as a decimal number (no ``nan``, ``inf``, ``1_000``)."""
    if not _DECIMAL.fullmatch(text):
        raise InvalidWelfareInput(f"{column} {_shown(text)} is not a number")
    return float(text)


def _csv_value(text: str) -> float:
    return _bounded(_csv_decimal(text, "value"), "value")


def _csv_std_error(text: str) -> float | None:
    return _std_error(_csv_decimal(text, "std_error")) if text else None


def _csv_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidWelfareInput(
            f"release_date {_shown(text)} is not a date (YYYY-MM-DD)"
        ) from None


class _Indicators:
    """Indicator ids by key, looked up once per distinct key of the file."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._known: dict[str, int] = {}
        self._unknown: set[str] = set()

    def key_of(self, indicator_id: int) -> str:
        """The key of an indicator `id_of` found."""
        return next(k for k, i in self._known.items() if i == indicator_id)

    def id_of(self, key: str) -> int:
        """The id of the indicator ``key`` (refused if there is none)."""
        found = self._known.get(key)
        if found is not None:
            return found
        if key and len(key) <= MAX_KEY and key not in self._unknown:
            indicator = find_indicator(self._session, key)
            if indicator is not None:
                self._known[key] = indicator.id
                return indicator.id
            if len(self._unknown) < MAX_UNKNOWN_KEYS:
                self._unknown.add(key)
        raise InvalidWelfareInput(f"no indicator with key {_shown(key)}")


class _Errors:
    """The first `MAX_CSV_ERRORS` line errors, and how many more there were."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.more = 0

    def add(self, line: int, message: str) -> None:
        if len(self.shown) < MAX_CSV_ERRORS:
            self.shown.append(f"line {line}: {message}")
        else:
            self.more += 1

    def __bool__(self) -> bool:
        return bool(self.shown)

    def refusal(self) -> InvalidWelfareInput:
        more = f"; and {self.more} more line(s) with errors" if self.more else ""
        return InvalidWelfareInput("the CSV was not imported: " + "; ".join(self.shown) + more)


def _columns(header: list[str]) -> dict[str, int]:
    """Column name → index, from the header row (refused if incomplete, unknown, repeated
    or holding a control character)."""
    names = [h.strip() for h in header]
    if names:
        names[0] = names[0].removeprefix("\ufeff").strip()
    for name in names:
        found = control_character(name)
        if found is not None:
            raise InvalidWelfareInput(
                f"the CSV header holds the control character {found}; send printable text"
            )
    missing = [c for c in CSV_REQUIRED if c not in names]
    if missing:
        raise InvalidWelfareInput(
            f"the CSV header must name {', '.join(CSV_REQUIRED)} (optional: "
            f"{', '.join(CSV_OPTIONAL)}); missing: {', '.join(missing)}"
        )
    unknown = [c[:40] for c in names if c not in CSV_REQUIRED + CSV_OPTIONAL]
    if unknown:
        raise InvalidWelfareInput(f"the CSV has unknown column(s): {', '.join(unknown)}")
    repeated = sorted(c for c, n in Counter(names).items() if n > 1)
    if repeated:
        raise InvalidWelfareInput(f"the CSV header names {', '.join(repeated)} more than once")
    return {name: index for index, name in enumerate(names)}


def _cell_parsers(
    columns: dict[str, int], indicators: _Indicators
) -> list[tuple[str, int, Callable[[str], object]]]:
    """``(column, index, parse)`` for each column the file has, in the order of
    `CSV_REQUIRED` + `CSV_OPTIONAL` (so a line's problems are listed in that order)."""
    parsers: dict[str, Callable[[str], object]] = {
        "indicator": indicators.id_of,
        "entity": _entity,
        "period": check_period,
        "value": _csv_value,
        "release_date": _csv_date,
        "std_error": _csv_std_error,
        "source": _source,
    }
    return [(name, columns[name], parse) for name, parse in parsers.items() if name in columns]


def _csv_row(
    row: list[str], width: int, parsers: list[tuple[str, int, Callable[[str], object]]]
) -> dict[str, Any]:
    """One data row as insert parameters (``indicator`` holds the key, ``indicator_id`` its
    id); the error lists every problem of the line, a cell at a time."""
    if len(row) > width:
        raise InvalidWelfareInput("it has more fields than the header")
    problems = _Problems()
    parsed: dict[str, object] = {"std_error": None, "source": ""}
    for name, index, parse in parsers:
        cell = row[index] if index < len(row) else ""
        found = control_character(cell)
        if found is not None:
            problems.found.append(
                f"the {name} cell holds the control character {found}; send printable text"
            )
            continue
        parsed[name] = problems.check(parse, cell.strip())
    refusal = problems.refusal()
    if refusal is not None:
        raise refusal
    return {
        "indicator_id": parsed["indicator"],
        "entity": parsed["entity"],
        "period": parsed["period"],
        "value": parsed["value"],
        "std_error": parsed["std_error"],
        "release_date": parsed["release_date"],
        "source": parsed["source"],
    }


def import_csv(session: Session, lines: Iterable[str] | str) -> CsvImport:
    """Append every observation of a CSV (format in the module docstring), all or none.

    Reads ``lines`` (a text stream, any iterable of lines, or one string) once, a line at a
    time, and inserts the rows `CSV_BATCH` per statement in the caller's transaction; after
    the first bad line nothing more is inserted, the remaining lines are only checked, and
    the error raised makes the caller roll back what was inserted. Memory: one batch plus
    the first `MAX_CSV_ERRORS` messages, whatever the size of the file.

    Raises:
        InvalidWelfareInput: a missing, unknown or repeated column, no data line, or bad
            lines (each error names its line; at most `MAX_CSV_ERRORS` are listed, then how
            many more).
    """
    source: Iterable[str] = io.StringIO(lines, newline="") if isinstance(lines, str) else lines
    reader = csv.reader(source)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise InvalidWelfareInput(f"the CSV header cannot be read: {exc}") from None
    columns = _columns(header)
    indicators = _Indicators(session)
    parsers = _cell_parsers(columns, indicators)
    errors = _Errors()
    counts: Counter[int] = Counter()
    stored = _Spans()
    batch: list[dict[str, Any]] = []
    for line, row in _rows(reader, errors):
        try:
            parameters = _csv_row(row, len(columns), parsers)
        except InvalidWelfareInput as exc:
            errors.add(line, str(exc))
            continue
        if errors:
            continue  # nothing more is inserted; the lines are still checked
        counts[parameters["indicator_id"]] += 1
        batch.append(parameters)
        if len(batch) >= CSV_BATCH:
            stored.add(_insert(session, batch))
            batch = []
    if errors:
        raise errors.refusal()
    if not counts:
        raise InvalidWelfareInput("the CSV has a header but no observations")
    if batch:
        stored.add(_insert(session, batch))
    _record_stored(session, stored)
    by_key = {indicators.key_of(i): n for i, n in counts.items()}
    return CsvImport(imported=sum(counts.values()), by_indicator=dict(sorted(by_key.items())))


def _rows(reader: Any, errors: _Errors) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of each non-blank data row, numbered by the line the record
    starts on (a quoted cell may span lines); a record the csv parser cannot read (a field
    over its 128 KiB limit) is an error, and ends the reading."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.add(start, f"{exc}; the rest of the file was not read")
            return
        if row:
            yield start, row


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


def _page(
    session: Session,
    indicator_key: str,
    entity: str | None,
    period: str | int | None,
    after_id: int,
) -> Select[Observation]:
    """Observations of one indicator with ``id > after_id``, optionally of one entity or
    period (not yet ordered nor limited)."""
    indicator = get_indicator(session, indicator_key)
    stmt = select(Observation).where(
        Observation.indicator_id == indicator.id, Observation.id > after_id
    )
    if entity is not None:
        stmt = stmt.where(Observation.entity == entity)
    if period is not None:
        stmt = stmt.where(Observation.period == check_period(period))
    return stmt


def _same_series(other: Any) -> Any:
    """``other`` (an alias of `Observation`) observes the same indicator, entity, period."""
    return and_(
        other.indicator_id == Observation.indicator_id,
        other.entity == Observation.entity,
        other.period == Observation.period,
    )


def list_observations(
    session: Session,
    indicator_key: str,
    *,
    entity: str | None = None,
    period: str | int | None = None,
    after_id: int = 0,
    limit: int = DEFAULT_PAGE,
) -> list[Observation]:
    """A page of every stored release of an indicator (optionally of one entity or
    period): ``id > after_id``, by id, at most ``limit``.

    Raises:
        UnknownIndicator: no such indicator.
        InvalidWelfareInput: a malformed period.
    """
    stmt = _page(session, indicator_key, entity, period, after_id)
    return list(session.scalars(stmt.order_by(Observation.id).limit(limit)))


def as_known_on(
    session: Session,
    indicator_key: str,
    on: date,
    *,
    entity: str | None = None,
    period: str | int | None = None,
    after_id: int = 0,
    limit: int = DEFAULT_PAGE,
) -> list[Observation]:
    """A page of the releases known on ``on``: per ``(entity, period)`` the observation
    with the greatest ``(release_date, id)`` among those released on or before ``on``
    (`welfare.vintage.as_known_on`), ``id > after_id``, by id, at most ``limit``.

    One query (`_vintage_page`): a row is kept when it is its series' choice.

    Raises:
        UnknownIndicator: no such indicator.
        InvalidWelfareInput: a malformed period.
    """
    newest = aliased(Observation)
    choice = (
        select(newest.id)
        .where(_same_series(newest), newest.release_date <= on)
        .order_by(newest.release_date.desc(), newest.id.desc())
    )
    stmt = _page(session, indicator_key, entity, period, after_id).where(
        Observation.release_date <= on
    )
    return _vintage_page(session, stmt, choice, limit)


def first_releases(
    session: Session,
    indicator_key: str,
    *,
    entity: str | None = None,
    period: str | int | None = None,
    after_id: int = 0,
    limit: int = DEFAULT_PAGE,
) -> list[Observation]:
    """A page of first releases: per ``(entity, period)`` the observation with the least
    ``(release_date, id)`` (`welfare.vintage.first_releases`), ``id > after_id``, by id, at
    most ``limit``; one query (`_vintage_page`).

    Raises:
        UnknownIndicator: no such indicator.
        InvalidWelfareInput: a malformed period.
    """
    earliest = aliased(Observation)
    choice = (
        select(earliest.id)
        .where(_same_series(earliest))
        .order_by(earliest.release_date, earliest.id)
    )
    stmt = _page(session, indicator_key, entity, period, after_id)
    return _vintage_page(session, stmt, choice, limit)


def _vintage_page(
    session: Session, page: Select[Observation], choice: Select[Any], limit: int
) -> list[Observation]:
    """The rows of ``page`` that are their series' ``choice`` (its first row), by id, at
    most ``limit``.

    Cost: the scan walks the indicator's rows in id order from the cursor and stops at
    ``limit`` kept rows; each row it passes asks for its series' choice, one seek of the
    series index ``(indicator_id, entity, period, release_date, id)`` read forwards or
    backwards. So a page costs the rows between the cursor and its last row (superseded
    releases in between included) times a logarithmic seek, and holds at most ``limit``
    rows whatever the size of the table.
    """
    chosen = choice.limit(1).scalar_subquery()
    stmt = page.where(Observation.id == chosen).order_by(Observation.id).limit(limit)
    return list(session.scalars(stmt))


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
