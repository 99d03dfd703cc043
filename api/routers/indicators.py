"""Indicators and observations: define indicators, append observations (JSON or CSV), and
ask which release of each value was known on a day; read them a page at a time, as JSON or
CSV.

Who may do what: an admin (the data steward) creates indicators and appends or imports
observations; anyone authenticated reads. Observations are append-only: a revision is a new
observation with a later release date, so "as known on day X" can always be answered. A
batch (JSON list or CSV file) is appended all or none. Write routes run their transaction
on one worker thread (`api.transactions.run_write`).

Lists follow `db.paging` (``after_id``, ``limit``; ``next_after_id`` in the answer). The CSV
import streams: the body is spooled (in memory up to 1 MiB, then to a temporary file) while
it is checked for size and UTF-8, then parsed and inserted a batch at a time, so neither a
read nor an import holds memory that grows with the table or the file.
"""

from __future__ import annotations

import codecs
import io
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from api.deps import AdminCaller, CurrentCaller, DatabaseDep, ReadSession
from api.params import AfterId, PageSize
from api.problems import PayloadTooLarge, UnsupportedMediaType, problem_responses
from api.schemas.indicators import (
    CSV_COLUMNS,
    CsvImportRead,
    IndicatorCreate,
    IndicatorPage,
    IndicatorRead,
    IsoDate,
    ObservationCreate,
    ObservationPage,
    ObservationRead,
    observations_csv,
)
from api.transactions import run_write
from db.paging import DEFAULT_PAGE, next_after_id
from welfare import observation_service as service
from welfare.errors import InvalidWelfareInput
from welfare.observation_service import CSV_OPTIONAL, CSV_REQUIRED, MAX_ENTITY

router = APIRouter(prefix="/indicators", tags=["indicators"])

MAX_CSV_BYTES = 10 * 1024 * 1024
"""Largest CSV body accepted (10 MiB: 150 000 to 380 000 lines, as the lines are long)."""

SPOOL_IN_MEMORY = 1024 * 1024
"""A CSV body is held in memory up to this size (1 MiB), then spooled to a temporary file."""

_CHECK_SLICE = 64 * 1024
"""Bytes of the body decoded at a time to check its UTF-8 (the text is not kept)."""

MAX_BATCH = 10_000
"""Most observations in one JSON append."""

NEXT_AFTER_ID = "Next-After-Id"
"""Response header of a CSV page: the ``next_after_id`` of its JSON twin (absent if null)."""

IndicatorKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[^./]+$",
        description="An indicator key (letters, digits and _; never a dot).",
        examples=["lifeExp"],
    ),
]


class _IndicatorKeyConvertor(Convertor[str]):
    """The ``{key:indicator_key}`` path segment: no dot, as no key holds one, so
    ``/indicators/observations.csv`` is the import route's path alone (a GET there is a 405,
    not a look-up of an indicator called ``observations.csv``)."""

    regex = r"[^/.]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("indicator_key", _IndicatorKeyConvertor())

CSV_EXAMPLE = (
    "indicator,entity,period,value,release_date,std_error,source\n"
    "lifeExp,World,2007,67.0,2009-01-01,0.3,gapminder\n"
    "gdpPercap,World,2007,9000,2009-01-01,,gapminder\n"
)

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            f"UTF-8 CSV with a header row naming {', '.join(CSV_REQUIRED)} and optionally "
            f"{', '.join(CSV_OPTIONAL)} (any order; optional cells may be empty); at most "
            f"{MAX_CSV_BYTES // (1024 * 1024)} MiB. Numbers in decimal; no cell may hold a "
            "control character; text is stored exactly as sent (a cell such as '=1+1' is "
            "text, never evaluated)."
        ),
        "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
    }
}

_CSV_PAGE_EXAMPLE = (
    ",".join(CSV_COLUMNS) + "\r\n"
    "1,lifeExp,World,2007,67.0,0.3,2009-01-01,gapminder,2009-01-02T10:00:00+00:00\r\n"
    "2,lifeExp,'=cmd|' /C calc'!A0,2007,-2.5,,2010-06-01,'@SUM(1),2010-06-02T10:00:00+00:00\r\n"
)

_OBSERVATIONS_200: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "A page of observations: JSON by default, CSV with ``format=csv`` (the same page; "
            "the next cursor in the Next-After-Id header)."
        ),
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": _CSV_PAGE_EXAMPLE,
            }
        },
        "headers": {
            NEXT_AFTER_ID: {
                "description": (
                    "CSV only: the after_id of the next page; absent on the last page."
                ),
                "schema": {"type": "integer"},
            }
        },
    }
}


# --- indicators ---------------------------------------------------------------------------


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_indicator",
    responses=problem_responses(401, 403, 409, 422),
)
async def create(
    body: IndicatorCreate, database: DatabaseDep, _admin: AdminCaller
) -> IndicatorRead:
    """Create an indicator (admin only): a key, its unit and a description.

    409 if the key is taken (an indicator is never redefined); 422 for a malformed key
    (it must start with a letter and use letters, digits and _) or unit.
    """

    def work(session: Session) -> IndicatorRead:
        indicator = service.create_indicator(session, body.key, body.unit, body.description)
        return IndicatorRead.of(indicator)

    return await run_write(database, work)


@router.get("", operation_id="list_indicators", responses=problem_responses(401, 422))
def list_(
    session: ReadSession,
    _caller: CurrentCaller,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> IndicatorPage:
    """Indicators by id, a page at a time (422 for a bad ``after_id`` or ``limit``)."""
    found = service.indicator_page(session, after_id=after_id, limit=limit)
    return IndicatorPage(
        indicators=[IndicatorRead.of(i) for i in found],
        next_after_id=next_after_id([i.id for i in found], limit),
    )


@router.post(
    "/observations.csv",
    status_code=status.HTTP_201_CREATED,
    operation_id="import_observations_csv",
    responses=problem_responses(401, 403, 413, 415, 422),
    openapi_extra=_CSV_BODY,
)
async def import_csv(request: Request, database: DatabaseDep, _admin: AdminCaller) -> CsvImportRead:
    """Append every observation in a CSV body (admin only), all or none.

    Send the file as the raw body with ``Content-Type: text/csv``. One row per
    observation, of any known indicator. 415 for another content type or charset; 413 for
    a body over 10 MiB; 422 for an empty body, text that is not UTF-8, a missing, unknown or
    repeated column, or bad lines, each named by its line (the header is line 1) with every
    problem of the line, e.g. ``line 3: value 'abc' is not a number``; a value must be
    finite with magnitude at most 1e15, a cell may hold no control character. On any error
    nothing is imported.
    """
    async with _spooled_csv(request) as spool:

        def work(session: Session) -> CsvImportRead:
            spool.seek(0)
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            try:
                return CsvImportRead.of(service.import_csv(session, text))
            finally:
                text.detach()  # the spool stays open for its context manager to close

        return await run_write(database, work)


@router.get(
    "/{key:indicator_key}", operation_id="get_indicator", responses=problem_responses(401, 404, 422)
)
def read(key: IndicatorKey, session: ReadSession, _caller: CurrentCaller) -> IndicatorRead:
    """One indicator."""
    return IndicatorRead.of(service.get_indicator(session, key))


# --- observations -------------------------------------------------------------------------


@router.post(
    "/{key:indicator_key}/observations",
    status_code=status.HTTP_201_CREATED,
    operation_id="append_observations",
    responses=problem_responses(401, 403, 404, 422),
)
async def append(
    key: IndicatorKey,
    body: Annotated[list[ObservationCreate], Body(min_length=1, max_length=MAX_BATCH)],
    database: DatabaseDep,
    _admin: AdminCaller,
) -> list[ObservationRead]:
    """Append observations of one indicator (admin only), all or none, in the order sent.

    404 if the indicator is unknown; 422 if any observation is invalid (the message names
    it, counting from 1, e.g. ``observation 2: period '2007-13' must be …``; a value or
    standard error that is not finite or beyond 1e15 in magnitude, ``NaN`` and
    ``Infinity`` included), and then none is appended.
    """
    rows = [o.to_input() for o in body]

    def work(session: Session) -> list[ObservationRead]:
        stored = service.append_observations(session, key, rows)
        return [ObservationRead.of(o, key) for o in stored]

    return await run_write(database, work)


@router.get(
    "/{key:indicator_key}/observations",
    operation_id="list_observations",
    response_model=ObservationPage,
    responses={**_OBSERVATIONS_200, **problem_responses(401, 404, 422)},
)
def list_observations(
    key: IndicatorKey,
    session: ReadSession,
    _caller: CurrentCaller,
    entity: Annotated[str | None, Query(max_length=MAX_ENTITY, examples=["World"])] = None,
    period: Annotated[
        str | None, Query(max_length=20, description="YYYY, YYYY-Qn or YYYY-MM.")
    ] = None,
    known_on: Annotated[
        IsoDate | None,
        Query(description="Per entity and period, only the release known on this day."),
    ] = None,
    first_release: Annotated[
        bool, Query(description="Per entity and period, only the first release.")
    ] = False,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
    output: Annotated[
        Literal["json", "csv"],
        Query(
            alias="format",
            description=(
                "json (the default): an ObservationPage; csv: the same page as text/csv, "
                "with the next cursor in the Next-After-Id header."
            ),
        ),
    ] = "json",
) -> ObservationPage | Response:
    """Observations of an indicator by id, a page at a time, optionally of one entity or
    period, as JSON or (``format=csv``) CSV.

    Without a vintage selector every release is listed. ``known_on=YYYY-MM-DD`` keeps, per
    entity and period, the newest release on or before that day (an older release before a
    revision's date, the revision from then on); ``first_release=true`` keeps the first
    release. Either way the page holds the kept observations with ``id > after_id``, by
    id. In CSV a text cell beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return is prefixed with ``'`` so no spreadsheet runs it; numbers stay numbers. 422 if
    both selectors are given, for a malformed period, date, ``after_id``, ``limit`` or
    ``format``; 404 for an unknown indicator.
    """
    if known_on is not None and first_release:
        raise InvalidWelfareInput("choose one vintage: known_on or first_release=true, not both")
    if known_on is not None:
        found = service.as_known_on(
            session, key, known_on, entity=entity, period=period, after_id=after_id, limit=limit
        )
    elif first_release:
        found = service.first_releases(
            session, key, entity=entity, period=period, after_id=after_id, limit=limit
        )
    else:
        found = service.list_observations(
            session, key, entity=entity, period=period, after_id=after_id, limit=limit
        )
    observations = [ObservationRead.of(o, key) for o in found]
    cursor = next_after_id([o.id for o in observations], limit)
    if output == "json":
        return ObservationPage(observations=observations, next_after_id=cursor)
    name = f"{key}-observations.csv" if key.isascii() else "observations.csv"  # latin-1 header
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if cursor is not None:
        headers[NEXT_AFTER_ID] = str(cursor)
    return Response(
        observations_csv(observations), media_type="text/csv; charset=utf-8", headers=headers
    )


@asynccontextmanager
async def _spooled_csv(request: Request) -> AsyncIterator[IO[bytes]]:
    """The request body, checked and spooled; refused with 415, 413 or 422 as documented.

    The body is read a chunk at a time: its size is counted against `MAX_CSV_BYTES`, its
    UTF-8 checked by an incremental decoder (an error names the byte offset), and the bytes
    written to a `tempfile.SpooledTemporaryFile` (memory up to `SPOOL_IN_MEMORY`, then a
    file, deleted when the context ends).
    """
    media_type, *params = (p.strip() for p in request.headers.get("content-type", "").split(";"))
    if media_type.lower() != "text/csv":
        raise UnsupportedMediaType(
            f"send the CSV as the raw body with Content-Type: text/csv, not {media_type!r}"
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaType(f"the CSV must be UTF-8, not {value.strip()!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CSV_BYTES:
        raise _too_large()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        decoder = codecs.getincrementaldecoder("utf-8")()
        size = 0
        blank = True
        async for chunk in request.stream():
            if size + len(chunk) > MAX_CSV_BYTES:
                raise _too_large()
            # checked a slice at a time: a client may send the whole body as one chunk
            for start in range(0, len(chunk), _CHECK_SLICE):
                piece = chunk[start : start + _CHECK_SLICE]
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(piece)
                except UnicodeDecodeError as exc:
                    raise _not_utf8(size - pending + exc.start) from None
                size += len(piece)
                blank = blank and not piece.strip()
            spool.write(chunk)  # past 1 MiB a write to the page cache: microseconds
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_utf8(size - pending + exc.start) from None
        if blank:
            raise InvalidWelfareInput("the CSV body is empty; send a header row and observations")
        yield spool


def _not_utf8(offset: int) -> InvalidWelfareInput:
    return InvalidWelfareInput(f"the CSV is not UTF-8 text (bad byte at offset {offset})")


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the CSV is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it into "
        "several imports"
    )
