"""Measurements: compute a metric version's welfare value (stored, or only previewed), read.

Who may do what: a seated council member or an admin computes (drafts too, to see what a
version would say); anyone authenticated reads. There is no route that certifies: only a
passed ``certify_measurement`` motion does (``POST /council/motions``, then vote and
decide), once, for a measurement of an *adopted* version, and only one per version, entity
and period; markets settle on that one. Computing moves no money and a second computation
is simply another measurement, so no Idempotency-Key is taken. Write routes run their
transaction on one worker thread (`api.transactions.run_write`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.orm import Session

from api.deps import CurrentCaller, DatabaseDep, ReadSession, SeatedOrAdmin
from api.params import MAX_ID
from api.problems import problem_responses
from api.schemas.measurements import MeasurementCreate, MeasurementPreviewRead, MeasurementRead
from api.schemas.metrics import VERSION_ID_PATTERN
from api.transactions import run_write
from welfare import measurement_service as service

router = APIRouter(prefix="/measurements", tags=["measurements"])

MeasurementId = Annotated[int, Path(ge=1, le=MAX_ID, description="A measurement id.")]

_COMPUTE_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_measurement",
    responses=_COMPUTE_ERRORS,
)
async def create(
    body: MeasurementCreate, database: DatabaseDep, caller: SeatedOrAdmin
) -> MeasurementRead:
    """Compute ``W`` of a version for a period with the data released on or before the
    cut-off, and store it with its breakdown (seated council member or admin).

    Which release of each value counts follows the version's vintage policy; a missing
    value follows its missing-data policy. 404 for an unknown version; 409 if the data known
    at the cut-off cannot produce a value under the policy (the message names the
    component), or for a council account without a seat; 403 for a trader; 422 for a bad
    period, cut-off or draw count (at most 100 000).
    """

    def work(session: Session) -> MeasurementRead:
        measurement = service.measure(
            session,
            body.version_id,
            body.period,
            body.cutoff,
            monte_carlo=body.monte_carlo,
            seed=body.seed,
            computed_by=caller.account_id,
        )
        return MeasurementRead.stored(measurement)

    return await run_write(database, work)


@router.post("/preview", operation_id="preview_measurement", responses=_COMPUTE_ERRORS)
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
) -> list[MeasurementRead]:
    """Measurements, newest first, optionally of one version, period or certification."""
    found = service.list_measurements(
        session, version_id=version_id, period=period, certified=certified
    )
    return [MeasurementRead.stored(m) for m in found]


@router.get(
    "/{measurement_id}",
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
