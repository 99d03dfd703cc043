"""Metric versions: draft a definition, read, list, diff, and the version in force on a day.

Who may do what: a seated council member or an admin drafts a version; anyone
authenticated reads. There is no route that adopts a version: only a passed
``adopt_metric_version`` motion does (``POST /council/motions``, then vote and decide),
which sets ``status``, ``effective_from`` and ``adopted_by_motion_id`` exactly once.

A version is keyed by the SHA-256 of its canonical JSON, so drafting the same definition
twice (however its JSON is written) gives the same version; that is why drafting needs no
Idempotency-Key. Write routes run their transaction on one worker thread
(`api.transactions.run_write`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi import status as http
from sqlalchemy.orm import Session

from api.deps import CurrentCaller, DatabaseDep, ReadSession, SeatedOrAdmin
from api.params import MAX_ID, PageSize
from api.problems import problem_responses
from api.schemas.indicators import IsoDate
from api.schemas.metrics import (
    VERSION_ID_PATTERN,
    FieldChangeRead,
    MetricDiffRead,
    MetricVersionCreate,
    MetricVersionCreated,
    MetricVersionPage,
    MetricVersionRead,
)
from api.transactions import run_write
from db.paging import DEFAULT_PAGE, next_after_id
from db.types import utcnow
from welfare import metric_service as service
from welfare.errors import UnknownMetricVersion
from welfare.records import VersionStatus

router = APIRouter(prefix="/metric-versions", tags=["metric versions"])

VersionId = Annotated[
    str,
    Path(
        pattern=VERSION_ID_PATTERN,
        description="A metric version id: SHA-256 of its canonical JSON, 64 lowercase hex.",
    ),
]


@router.post(
    "",
    status_code=http.HTTP_201_CREATED,
    operation_id="create_metric_version",
    responses={
        200: {"model": MetricVersionCreated, "description": "That definition existed already."},
        **problem_responses(401, 403, 409, 422),
    },
)
async def create(
    body: MetricVersionCreate, response: Response, database: DatabaseDep, caller: SeatedOrAdmin
) -> MetricVersionCreated:
    """Store a definition as a draft version (seated council member or admin).

    201 with ``created: true`` for a new version; 200 with ``created: false`` (and the
    stored version, whatever its status) when that exact definition is a version already.
    422 if the definition fails validation, names an unknown indicator or disagrees with an
    indicator's unit (every problem in one message); 403 for a trader; 409 for a council
    account without a seat. Adoption happens only by an ``adopt_metric_version`` motion.
    """
    definition = body.definition()

    def work(session: Session) -> MetricVersionCreated:
        version, created = service.draft_version(session, definition, created_by=caller.account_id)
        return MetricVersionCreated.made(version, created=created)

    made = await run_write(database, work)
    if not made.created:
        response.status_code = http.HTTP_200_OK
    return made


@router.get("", operation_id="list_metric_versions", responses=problem_responses(401, 422))
def list_(
    session: ReadSession,
    _caller: CurrentCaller,
    status: Annotated[
        VersionStatus | None, Query(description="Only drafts or only adopted versions.")
    ] = None,
    after_id: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_ID,
            description="How many versions (of this filter) were read already (paging).",
        ),
    ] = 0,
    limit: PageSize = DEFAULT_PAGE,
) -> MetricVersionPage:
    """Versions, oldest first, a page at a time (`db.paging`), optionally only drafts or
    only adopted ones.

    A version's key is its SHA-256, so ``after_id`` counts the versions already read:
    send 0 first, then each answer's ``next_after_id`` (null on the last page). 422 for an
    unknown status or an ``after_id`` or ``limit`` out of range.
    """
    versions = service.list_versions(
        session,
        status=None if status is None else status.value,
        after_id=after_id,
        limit=limit,
    )
    positions = list(range(after_id + 1, after_id + len(versions) + 1))
    return MetricVersionPage(
        versions=[MetricVersionRead.of(v) for v in versions],
        next_after_id=next_after_id(positions, limit),
    )


@router.get(
    "/in-force",
    operation_id="get_metric_version_in_force",
    responses=problem_responses(401, 404, 422),
)
def in_force(
    session: ReadSession,
    _caller: CurrentCaller,
    on: Annotated[
        IsoDate | None, Query(description="The day, YYYY-MM-DD (default: today, UTC).")
    ] = None,
) -> MetricVersionRead:
    """The version in force on a day: the adopted version with the latest
    ``effective_from`` on or before it (a tie goes to the later adoption).

    404 if no adopted version is in force on that day yet.
    """
    day: date = on or utcnow().date()
    version = service.version_in_force(session, day)
    if version is None:
        raise UnknownMetricVersion(f"no adopted metric version is in force on {day.isoformat()}")
    return MetricVersionRead.of(version)


@router.get(
    "/{version_id}",
    operation_id="get_metric_version",
    responses=problem_responses(401, 404, 422),
)
def read(version_id: VersionId, session: ReadSession, _caller: CurrentCaller) -> MetricVersionRead:
    """One version: its definition (canonical JSON and parsed), status and adoption.

    422 if the id is not 64 lowercase hex digits; 404 if no version has it.
    """
    return MetricVersionRead.of(service.get_version(session, version_id))


@router.get(
    "/{a}/diff/{b}",
    operation_id="diff_metric_versions",
    responses=problem_responses(401, 404, 422),
)
def diff(
    a: VersionId, b: VersionId, session: ReadSession, _caller: CurrentCaller
) -> MetricDiffRead:
    """The fields that change from version ``a`` to version ``b``, by dotted path (e.g.
    ``components.health.weight``); empty iff ``a`` and ``b`` are the same version.

    404 if either version is unknown.
    """
    changes = service.diff_versions(session, a, b)
    return MetricDiffRead(
        from_version_id=a, to_version_id=b, changes=[FieldChangeRead.of(c) for c in changes]
    )
