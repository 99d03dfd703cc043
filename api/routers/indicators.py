"""Indicators and observations: define indicators, append observations (JSON or CSV), and
ask which release of each value was known on a day.

Who may do what: an admin (the data steward) creates indicators and appends or imports
observations; anyone authenticated reads. Observations are append-only: a revision is a new
observation with a later release date, so "as known on day X" can always be answered. A
batch (JSON list or CSV file) is appended all or none. Write routes run their transaction
on one worker thread (`api.transactions.run_write`).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, status
from sqlalchemy.orm import Session

from api.deps import AdminCaller, CurrentCaller, DatabaseDep, ReadSession
from api.problems import PayloadTooLarge, UnsupportedMediaType, problem_responses
from api.schemas.indicators import (
    CsvImportRead,
    IndicatorCreate,
    IndicatorRead,
    IsoDate,
    ObservationCreate,
    ObservationRead,
)
from api.transactions import run_write
from welfare import observation_service as service
from welfare.errors import InvalidWelfareInput
from welfare.observation_service import CSV_OPTIONAL, CSV_REQUIRED, MAX_ENTITY

router = APIRouter(prefix="/indicators", tags=["indicators"])

MAX_CSV_BYTES = 10 * 1024 * 1024
"""Largest CSV body accepted (10 MiB, about 150 000 lines)."""

MAX_BATCH = 10_000
"""Most observations in one JSON append."""

IndicatorKey = Annotated[
    str, Path(min_length=1, max_length=64, description="An indicator key.", examples=["lifeExp"])
]

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
            f"{MAX_CSV_BYTES // (1024 * 1024)} MiB."
        ),
        "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
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


@router.get("", operation_id="list_indicators", responses=problem_responses(401))
def list_(session: ReadSession, _caller: CurrentCaller) -> list[IndicatorRead]:
    """Every indicator, by key."""
    return [IndicatorRead.of(i) for i in service.list_indicators(session)]


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
    a body over 10 MiB; 422 for an empty body, text that is not UTF-8, a missing or unknown
    column, or bad lines, each named by its line (the header is line 1), e.g.
    ``line 3: value 'abc' is not a number``. On any error nothing is imported.
    """
    content = await _csv_text(request)

    def work(session: Session) -> CsvImportRead:
        observations = service.import_csv(session, content)
        keys = {i.id: i.key for i in service.list_indicators(session)}
        counts = Counter(keys[o.indicator_id] for o in observations)
        return CsvImportRead(imported=len(observations), by_indicator=dict(sorted(counts.items())))

    return await run_write(database, work)


@router.get("/{key}", operation_id="get_indicator", responses=problem_responses(401, 404, 422))
def read(key: IndicatorKey, session: ReadSession, _caller: CurrentCaller) -> IndicatorRead:
    """One indicator."""
    return IndicatorRead.of(service.get_indicator(session, key))


# --- observations -------------------------------------------------------------------------


@router.post(
    "/{key}/observations",
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
    it, counting from 1, e.g. ``observation 2: period '2007-13' must be …``), and then
    none is appended.
    """
    rows = [o.to_input() for o in body]

    def work(session: Session) -> list[ObservationRead]:
        stored = service.append_observations(session, key, rows)
        return [ObservationRead.of(o, key) for o in stored]

    return await run_write(database, work)


@router.get(
    "/{key}/observations",
    operation_id="list_observations",
    responses=problem_responses(401, 404, 422),
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
) -> list[ObservationRead]:
    """Observations of an indicator by entity, period, release date, optionally of one
    entity or period.

    Without a vintage selector every release is listed. ``known_on=YYYY-MM-DD`` keeps, per
    entity and period, the newest release on or before that day (an older release before a
    revision's date, the revision from then on); ``first_release=true`` keeps the first
    release. 422 if both are given or for a malformed period; 404 for an unknown indicator.
    """
    if known_on is not None and first_release:
        raise InvalidWelfareInput("choose one vintage: known_on or first_release=true, not both")
    if known_on is not None:
        found = service.as_known_on(session, key, known_on, entity=entity, period=period)
    elif first_release:
        found = service.first_releases(session, key, entity=entity, period=period)
    else:
        found = service.list_observations(session, key, entity=entity, period=period)
    return [ObservationRead.of(o, key) for o in found]


async def _csv_text(request: Request) -> str:
    """The request body as CSV text, refused with 415, 413 or 422 as documented."""
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
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CSV_BYTES:
            raise _too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidWelfareInput("the CSV body is empty; send a header row and observations")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWelfareInput(
            f"the CSV is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the CSV is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it into "
        "several imports"
    )
