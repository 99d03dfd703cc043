"""Measurements: compute a metric version's welfare value (stored, or only previewed), read.

Who may do what: a seated council member or an admin computes (drafts too, to see what a
version would say); anyone authenticated reads. There is no route that certifies: only a
passed ``certify_measurement`` motion does (``POST /council/motions``, then vote and
decide), once, for a measurement of an *adopted* version, and only one per version, entity
and period; markets settle on that one.

Storing a measurement takes an ``Idempotency-Key`` like every other write that a retry
must not repeat (`api.idempotency`): a retry with the same key and body replays the first
response and stores nothing more; to compute again on purpose, send a new key. A preview
stores nothing and takes no key. Write routes run their transaction on one worker thread
(`api.transactions.run_write`). The list follows `db.paging`; ids in paths are integers
(``{measurement_id:int}``), so ``GET /measurements/preview`` is a 405, not an id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import CurrentCaller, DatabaseDep, ReadSession, SeatedOrAdmin
from api.idempotency import IdempotencyKey, idempotent
from api.params import MAX_ID, AfterId, PageSize
from api.problems import problem_responses
from api.schemas.measurements import MeasurementCreate, MeasurementPreviewRead, MeasurementRead
from api.schemas.metrics import VERSION_ID_PATTERN
from db.paging import DEFAULT_PAGE, next_after_id
from welfare import measurement_service as service
from welfare.records import Measurement
from welfare.vintage import check_period

router = APIRouter(prefix="/measurements", tags=["measurements"])

MeasurementId = Annotated[int, Path(ge=1, le=MAX_ID, description="A measurement id.")]


class MeasurementPage(BaseModel):
    """A page of measurements by id. To read on, pass ``after_id`` = ``next_after_id``."""

    measurements: list[MeasurementRead]
    next_after_id: int | None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_measurement",
    response_model=MeasurementRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create(
    body: MeasurementCreate, database: DatabaseDep, caller: SeatedOrAdmin, idem: IdempotencyKey
) -> Response:
    """Compute ``W`` of a version for a period with the data released on or before the
    cut-off, and store it with its breakdown (seated council member or admin).

    Which release of each value counts follows the version's vintage policy; a missing
    value follows its missing-data policy. A retry with the same ``Idempotency-Key`` and
    body returns the first response (``Idempotent-Replayed: true``) and stores no second
    measurement. 400 without an ``Idempotency-Key``; 404 for an unknown version; 409 if the
    data known at the cut-off cannot produce a value under the policy (the message names
    the component), or for a council account without a seat; 403 for a trader; 422 for a
    bad period, cut-off or draw count (at most 100 000), or a key reused for another body.
    """
    return await idempotent(
        database,
        caller.account_id,
        idem,
        body,
        status.HTTP_201_CREATED,
        lambda session: MeasurementRead.stored(
            service.measure(
                session,
                body.version_id,
                body.period,
                body.cutoff,
                monte_carlo=body.monte_carlo,
                seed=body.seed,
                computed_by=caller.account_id,
            )
        ),
    )


@router.post(
    "/preview",
    operation_id="preview_measurement",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def preview(
    body: MeasurementCreate, session: ReadSession, _caller: SeatedOrAdmin
) -> MeasurementPreviewRead:
    """Compute as ``POST /measurements`` does, but store nothing (same roles and errors)."""
    result = service.preview(
        session,
        body.version_id,
        body.period,
        body.cutoff,
        monte_carlo=body.monte_carlo,
        seed=body.seed,
    )
    return MeasurementPreviewRead.of(body.version_id, result, body.monte_carlo)


@router.get("", operation_id="list_measurements", responses=problem_responses(401, 422))
def list_(
    session: ReadSession,
    _caller: CurrentCaller,
    version_id: Annotated[
        str | None, Query(pattern=VERSION_ID_PATTERN, description="Only this version's.")
    ] = None,
    period: Annotated[
        str | None, Query(max_length=20, description="Only this period (YYYY, YYYY-Qn, YYYY-MM).")
    ] = None,
    certified: Annotated[
        bool | None, Query(description="Only certified (true) or uncertified (false) ones.")
    ] = None,
    after_id: AfterId = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> MeasurementPage:
    """Measurements by id, a page at a time, optionally of one version, period or
    certification (422 for a malformed filter, ``after_id`` or ``limit``)."""
    found = _measurement_page(session, version_id, period, certified, after_id, limit)
    return MeasurementPage(
        measurements=[MeasurementRead.stored(m) for m in found],
        next_after_id=next_after_id([m.id for m in found], limit),
    )


def _measurement_page(
    session: Session,
    version_id: str | None,
    period: str | None,
    certified: bool | None,
    after_id: int,
    limit: int,
) -> list[Measurement]:
    """Measurements with ``id > after_id`` matching the filters, by id, at most ``limit``:
    one range scan of the primary key (`db.paging`)."""
    stmt = select(Measurement).where(Measurement.id > after_id)
    if version_id is not None:
        stmt = stmt.where(Measurement.version_id == version_id)
    if period is not None:
        stmt = stmt.where(Measurement.period == check_period(period))
    if certified is not None:
        stmt = stmt.where(
            Measurement.certified_at.is_not(None)
            if certified
            else Measurement.certified_at.is_(None)
        )
    return list(session.scalars(stmt.order_by(Measurement.id).limit(limit)))


@router.get(
    "/{measurement_id:int}",
    operation_id="get_measurement",
    responses=problem_responses(401, 404, 422),
)
def read(
    measurement_id: MeasurementId, session: ReadSession, _caller: CurrentCaller
) -> MeasurementRead:
    """One measurement: ``W``, each component's raw, normalised and weighted contribution,
    the missing-data handling, the Monte Carlo summary, and its certification (the motion
    and time) or null."""
    return MeasurementRead.stored(service.get_measurement(session, measurement_id))
