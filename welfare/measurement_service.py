"""Measurements: compute and store a metric version's welfare value, read it, certify it.

`measure` loads the observations of the version's indicators released on or before the
cut-off, runs the pure `welfare.measurement.measure`, and stores the result with its
breakdown, missing-data handling and Monte Carlo summary. Computing is allowed for drafts
too (to see what a version would say); only a measurement of an adopted version can be
certified, only by a passed ``certify_measurement`` motion (`certify_measurement`, called by
`welfare.motions`), only once, and only one measurement per (version, entity, period).

Audit: storing a measurement appends ``measurement.taken`` (everything stored, and the
Monte Carlo seed) and certifying it ``measurement.certified`` (naming the motion) to the
governance stream (`db.audit`), in the same transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import audit
from db.audit_chain import iso_instant
from db.types import utcnow
from welfare.errors import AlreadyCertified, UnknownMeasurement, VersionNotAdopted
from welfare.measurement import MeasurementResult
from welfare.measurement import measure as compute
from welfare.metric_service import definition_of, get_version
from welfare.observation_service import observations_for
from welfare.records import Measurement, VersionStatus
from welfare.vintage import check_period


def preview(
    session: Session,
    version_id: str,
    period: str | int,
    cutoff: date,
    *,
    monte_carlo: int = 0,
    seed: int = 0,
) -> MeasurementResult:
    """Compute without storing (same arguments and errors as `measure`)."""
    definition = definition_of(get_version(session, version_id))
    observations = observations_for(session, definition.indicators, cutoff)
    return compute(definition, observations, period, cutoff, monte_carlo=monte_carlo, seed=seed)


def measure(
    session: Session,
    version_id: str,
    period: str | int,
    cutoff: date,
    *,
    monte_carlo: int = 0,
    seed: int = 0,
    computed_by: int | None = None,
) -> Measurement:
    """Compute the welfare value of a version for ``period`` with the data known at
    ``cutoff``, and store it.

    Raises:
        UnknownMetricVersion: no such version.
        InvalidWelfareInput: a bad period or draw count.
        MeasurementUnavailable: the data known at the cut-off cannot produce a value.
    """
    result = preview(session, version_id, period, cutoff, monte_carlo=monte_carlo, seed=seed)
    measurement = Measurement(
        version_id=version_id,
        entity=result.entity,
        period=result.period,
        cutoff=cutoff,
        value=result.value,
        breakdown=result.breakdown_json(),
        missing=result.missing.to_json(),
        monte_carlo=monte_carlo,
        uncertainty=result.uncertainty.to_json() if result.uncertainty else None,
        computed_by_account_id=computed_by,
    )
    session.add(measurement)
    session.flush()
    audit.record(
        session,
        "measurement.taken",
        {
            "measurement_id": measurement.id,
            "version_id": version_id,
            "entity": measurement.entity,
            "period": measurement.period,
            "cutoff": cutoff.isoformat(),
            "value": measurement.value,
            "breakdown": measurement.breakdown,
            "missing": measurement.missing,
            "monte_carlo": monte_carlo,
            "seed": seed,
            "uncertainty": measurement.uncertainty,
            "computed_by_account_id": computed_by,
            "computed_at": iso_instant(measurement.computed_at),
        },
    )
    return measurement


def get_measurement(session: Session, measurement_id: int) -> Measurement:
    """The measurement with that id.

    Raises:
        UnknownMeasurement: none has that id.
    """
    measurement = session.get(Measurement, measurement_id)
    if measurement is None:
        raise UnknownMeasurement(f"no measurement with id {measurement_id}")
    return measurement


def list_measurements(
    session: Session,
    *,
    version_id: str | None = None,
    period: str | int | None = None,
    certified: bool | None = None,
) -> list[Measurement]:
    """Measurements, newest first, optionally of one version / period / certification."""
    stmt = select(Measurement)
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
    return list(session.scalars(stmt.order_by(Measurement.id.desc())))


def certified_measurement(
    session: Session, version_id: str, period: str | int, entity: str | None = None
) -> Measurement | None:
    """The certified measurement of a version for a period (what markets settle on), or
    None. ``entity`` defaults to the version's entity."""
    if entity is None:
        entity = definition_of(get_version(session, version_id)).entity
    return session.scalar(
        select(Measurement).where(
            Measurement.version_id == version_id,
            Measurement.entity == entity,
            Measurement.period == check_period(period),
            Measurement.certified_at.is_not(None),
        )
    )


def certify_measurement(session: Session, measurement_id: int, motion_id: int) -> Measurement:
    """Certify a measurement, as decided by motion ``motion_id``.

    Only a passed motion calls this (`welfare.motions`). The row is locked for update on
    PostgreSQL; a partial unique index guarantees one certified measurement per
    (version, entity, period) even under races.

    Raises:
        UnknownMeasurement: no such measurement.
        VersionNotAdopted: its metric version is still a draft.
        AlreadyCertified: it, or another measurement of the same version and period, is
            certified already.
    """
    measurement = session.scalar(
        select(Measurement).where(Measurement.id == measurement_id).with_for_update()
    )
    if measurement is None:
        raise UnknownMeasurement(f"no measurement with id {measurement_id}")
    if measurement.certified_at is not None:
        raise AlreadyCertified(
            f"measurement {measurement_id} was certified already (by motion "
            f"{measurement.certified_by_motion_id})"
        )
    version = get_version(session, measurement.version_id)
    if version.status != VersionStatus.ADOPTED.value:
        raise VersionNotAdopted(
            f"measurement {measurement_id} measures metric version "
            f"{measurement.version_id[:12]}…, which is a draft; only a measurement of an "
            "adopted version can be certified"
        )
    other = certified_measurement(
        session, measurement.version_id, measurement.period, measurement.entity
    )
    if other is not None:
        raise AlreadyCertified(
            f"measurement {other.id} is certified already for {measurement.entity}, "
            f"{measurement.period} under this version"
        )
    certified_at = utcnow()
    try:
        with session.begin_nested():
            measurement.certified_by_motion_id = motion_id
            measurement.certified_at = certified_at
            session.flush()
    except IntegrityError:
        raise AlreadyCertified(
            f"another measurement of {measurement.entity}, {measurement.period} was certified "
            "meanwhile"
        ) from None
    audit.record(
        session,
        "measurement.certified",
        {
            "measurement_id": measurement.id,
            "motion_id": motion_id,
            "version_id": measurement.version_id,
            "entity": measurement.entity,
            "period": measurement.period,
            "cutoff": measurement.cutoff.isoformat(),
            "value": measurement.value,
            "certified_at": iso_instant(certified_at),
        },
    )
    return measurement
