"""Metric versions with their definitions and diffs; measurements with their breakdown.

- ``GET /web/metrics``: every version (a page of `PAGE`, oldest first, as
  ``GET /metric-versions``), its status and when it is in force;
- ``GET /web/metrics/{version_id}?against={other}``: the definition component by
  component, the canonical JSON that is hashed, and the diff from another version
  (`welfare.metric_service.diff_versions`; by default the version listed before it);
- ``GET /web/measurements``: measurements, newest first, a page at a time (``?before=id``);
- ``GET /web/measurements/{id}``: ``W`` and each component's raw value, score, weight and
  contribution, the missing-data handling and the certification.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import DatabaseDep
from api.params import MAX_ID
from api.schemas.measurements import MeasurementRead
from api.schemas.metrics import VERSION_ID_PATTERN, MetricVersionRead
from api.web import session as web_session
from api.web.render import page
from api.web.routing import PageRoute
from db.paging import DEFAULT_PAGE
from db.session import Database
from welfare import metric_service
from welfare.measurement_service import get_measurement
from welfare.records import Measurement

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE = DEFAULT_PAGE
"""Versions or measurements one page lists."""

VersionId = Annotated[str, Path(pattern=VERSION_ID_PATTERN)]


def _read(database: Database, work: Callable[[Session], Any]) -> Any:
    with database.read() as session:
        return work(session)


async def _render(
    request: Request,
    database: Database,
    template: str,
    title: str,
    build: Callable[[Session], dict[str, Any]],
) -> HTMLResponse:
    def work(session: Session) -> tuple[Any, dict[str, Any]]:
        return web_session.read_session(request, session), build(session)

    web, context = await anyio.to_thread.run_sync(_read, database, work)
    return page(request, template, context, web=web, title=title)


@router.get("/web/metrics")
async def metrics(
    request: Request,
    database: DatabaseDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> HTMLResponse:
    """The metric versions, oldest first."""

    def build(session: Session) -> dict[str, Any]:
        versions = metric_service.list_versions(session, after_id=after, limit=PAGE)
        return {
            "versions": [MetricVersionRead.of(v) for v in versions],
            "after": after,
            "next_after": after + PAGE if len(versions) == PAGE else None,
        }

    return await _render(request, database, "metrics.j2", "Metric versions", build)


@router.get("/web/metrics/{version_id}")
async def metric(
    request: Request,
    version_id: VersionId,
    database: DatabaseDep,
    against: Annotated[str | None, Query(pattern=VERSION_ID_PATTERN)] = None,
) -> HTMLResponse:
    """One version's definition and its diff from another."""

    def build(session: Session) -> dict[str, Any]:
        version = MetricVersionRead.of(metric_service.get_version(session, version_id))
        others = metric_service.list_versions(session, limit=PAGE)
        ids = [v.version_id for v in others]
        other = against
        if other is None and version_id in ids and ids.index(version_id) > 0:
            other = ids[ids.index(version_id) - 1]
        changes = None
        if other is not None:
            changes = metric_service.diff_versions(session, other, version_id)
        return {
            "v": version,
            "against": other,
            "changes": changes,
            "others": [(v.version_id, v.name) for v in others if v.version_id != version_id],
        }

    return await _render(request, database, "metric.j2", "Metric version", build)


@router.get("/web/measurements")
async def measurements(
    request: Request,
    database: DatabaseDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """Measurements, newest first, a page at a time."""

    def build(session: Session) -> dict[str, Any]:
        stmt = select(Measurement)
        if before is not None:
            stmt = stmt.where(Measurement.id < before)
        rows = list(session.scalars(stmt.order_by(Measurement.id.desc()).limit(PAGE)))
        return {
            "rows": [MeasurementRead.stored(m) for m in rows],
            "next_before": rows[-1].id if len(rows) == PAGE else None,
        }

    return await _render(request, database, "measurements.j2", "Measurements", build)


@router.get("/web/measurements/{measurement_id:int}")
async def measurement(
    request: Request,
    measurement_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    database: DatabaseDep,
) -> HTMLResponse:
    """One measurement with its breakdown."""

    def build(session: Session) -> dict[str, Any]:
        return {"m": MeasurementRead.stored(get_measurement(session, measurement_id))}

    return await _render(request, database, "measurement.j2", "Measurement", build)
