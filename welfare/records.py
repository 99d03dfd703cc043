"""ORM models of the metric side: indicators, observations, metric versions, measurements.

Layout, and why:

- `Indicator`: a measured quantity with its unit (``key`` unique, e.g. ``lifeExp`` in
  ``years``).
- `Observation`: one value of an indicator for an entity and a period, with its release
  (vintage) date, standard error and source. Append-only: a revision is a new row with a
  later release date, so "as known on day X" can always be answered. The ORM refuses to
  flush an update or a delete (`welfare.errors.AppendOnlyViolation`).
- `MetricVersion`: a definition, stored as its canonical JSON text, keyed by its SHA-256
  (``version_id``), so anyone can re-hash the stored text and check the key. The definition
  never changes (the ORM refuses a change of ``canonical``); only the adoption fields are
  written, exactly once, when a passed motion adopts it (draft → adopted).
- `Measurement`: a computed welfare value with its breakdown, missing-data handling and
  Monte Carlo summary (JSON), and its certification (by motion; written exactly once). At
  most one measurement per ``(version, entity, period)`` is certified (a partial unique
  index).

``adopted_by_motion_id`` / ``certified_by_motion_id`` carry the motion's id without a
foreign key: the council's tables live in a sibling migration branch.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from db.base import Base
from db.types import UTCDateTime, utcnow
from welfare.errors import AppendOnlyViolation, VersionImmutable


class VersionStatus(enum.StrEnum):
    """A metric version is a draft until a passed motion adopts it."""

    DRAFT = "draft"
    ADOPTED = "adopted"


class Indicator(Base):
    """A measured quantity and its unit."""

    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    unit: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Observation(Base):
    """One released value of an indicator (append-only)."""

    __tablename__ = "observation"
    __table_args__ = (
        CheckConstraint("std_error IS NULL OR std_error >= 0", name="std_error_not_negative"),
        # pages of one indicator by id (`welfare.observation_service.list_observations`)
        Index("ix_observation_page", "indicator_id", "id"),
        # a series' releases in (release_date, id) order: each vintage choice is one seek
        Index("ix_observation_vintage", "indicator_id", "entity", "period", "release_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id"))
    entity: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(7))
    value: Mapped[float] = mapped_column(Double)
    std_error: Mapped[float | None] = mapped_column(Double, default=None)
    release_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MetricVersion(Base):
    """A metric definition, keyed by the SHA-256 of its canonical JSON."""

    __tablename__ = "metric_version"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'adopted')", name="status_known"),
        CheckConstraint(
            "(status = 'draft' AND effective_from IS NULL AND adopted_at IS NULL) OR "
            "(status = 'adopted' AND effective_from IS NOT NULL AND adopted_at IS NOT NULL)",
            name="adoption_complete",
        ),
    )

    version_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    canonical: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.DRAFT.value)
    effective_from: Mapped[date | None] = mapped_column(Date, default=None)
    adopted_by_motion_id: Mapped[int | None] = mapped_column(Integer, default=None)
    adopted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_by_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Measurement(Base):
    """A welfare value of one version for one period at one cut-off."""

    __tablename__ = "measurement"
    __table_args__ = (
        Index(
            "uq_measurement_certified_period",
            "version_id",
            "entity",
            "period",
            unique=True,
            sqlite_where=text("certified_at IS NOT NULL"),
            postgresql_where=text("certified_at IS NOT NULL"),
        ),
        CheckConstraint("monte_carlo >= 0", name="monte_carlo_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("metric_version.version_id"), index=True)
    entity: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(7))
    cutoff: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Double)
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    missing: Mapped[dict[str, Any]] = mapped_column(JSON)
    monte_carlo: Mapped[int] = mapped_column(Integer, default=0)
    uncertainty: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    computed_by_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id"), default=None
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    certified_by_motion_id: Mapped[int | None] = mapped_column(Integer, default=None)
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


# --- immutability guards ------------------------------------------------------------------


def _refuse_observation(verb: str) -> Any:
    def _listener(_mapper: Mapper[Any], _connection: Connection, target: Observation) -> None:
        raise AppendOnlyViolation(
            f"observation {target.id} cannot be {verb}: observations are append-only; "
            "append a revision with a later release date instead"
        )

    return _listener


event.listen(Observation, "before_update", _refuse_observation("updated"))
event.listen(Observation, "before_delete", _refuse_observation("deleted"))


@event.listens_for(MetricVersion, "before_update")
def _version_definition_is_immutable(
    _mapper: Mapper[Any], _connection: Connection, target: MetricVersion
) -> None:
    state = inspect(target)
    for name in ("canonical", "name", "version_id"):
        if state.attrs[name].history.has_changes():
            raise VersionImmutable(
                f"metric version {target.version_id[:12]}…'s definition cannot change; "
                "create a new version instead"
            )


@event.listens_for(MetricVersion, "before_delete")
def _version_is_never_deleted(
    _mapper: Mapper[Any], _connection: Connection, target: MetricVersion
) -> None:
    raise AppendOnlyViolation(f"metric version {target.version_id[:12]}… cannot be deleted")


@event.listens_for(Measurement, "before_delete")
def _measurement_is_never_deleted(
    _mapper: Mapper[Any], _connection: Connection, target: Measurement
) -> None:
    raise AppendOnlyViolation(f"measurement {target.id} cannot be deleted")


_MEASUREMENT_WRITABLE = frozenset({"certified_by_motion_id", "certified_at"})


@event.listens_for(Measurement, "before_update")
def _measurement_only_gains_a_certification(
    _mapper: Mapper[Any], _connection: Connection, target: Measurement
) -> None:
    state = inspect(target)
    changed = {a.key for a in state.attrs if a.history.has_changes()} - _MEASUREMENT_WRITABLE
    if changed:
        raise AppendOnlyViolation(
            f"measurement {target.id} cannot change {', '.join(sorted(changed))}: only its "
            "certification is ever written; compute a new measurement instead"
        )
