"""Schemas for measurements: a metric version's welfare value ``W`` for one period with the
data known at a cut-off, its per-component breakdown, missing-data handling, Monte Carlo
summary and certification (`welfare.measurement` states every step).

Values are welfare units (the version's ``unit``); component ``raw`` values are in their
indicator's unit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.schemas.base import RequestModel
from api.schemas.indicators import IsoDate, Period
from api.schemas.metrics import VERSION_ID_PATTERN
from welfare.measurement import MAX_DRAWS, MeasurementResult
from welfare.metric import MissingPolicy
from welfare.records import Measurement

MAX_SEED = 2**63 - 1


class MeasurementCreate(RequestModel):
    """What to measure: a version, a period, a cut-off, and optionally Monte Carlo draws."""

    model_config = ConfigDict(extra="forbid")

    version_id: str = Field(pattern=VERSION_ID_PATTERN, description="A metric version id.")
    period: Period = Field(description="YYYY, YYYY-Qn or YYYY-MM.", examples=[2007])
    cutoff: IsoDate = Field(
        description="Only observations released on or before this day count.",
        examples=["2010-01-01"],
    )
    monte_carlo: StrictInt = Field(
        default=0, ge=0, le=MAX_DRAWS, description="Draws for the uncertainty (0: none)."
    )
    seed: StrictInt = Field(default=0, ge=0, le=MAX_SEED, description="The draws' seed.")


class ComponentRead(BaseModel):
    """One component's part in ``W``; a dropped component has null in every value."""

    key: str
    indicator: str
    status: Literal["observed", "carried_forward", "dropped"]
    period: str | None = Field(description="The period used (earlier if carried forward).")
    raw: float | None = Field(description="The value used, in the indicator's unit.")
    std_error: float | None
    release_date: date | None
    source: str | None
    observation_id: int | None
    transformed: float | None = Field(description="ln raw under a log transform, else raw.")
    normalised: float | None = Field(description="The score s.")
    weight: float | None = Field(description="The weight applied (re-normalised after a drop).")
    contribution: float | None = Field(description="w·s (arithmetic, money) or s^w (geometric).")


class MissingRead(BaseModel):
    """The missing-data handling applied."""

    policy: MissingPolicy
    carried_forward: dict[str, str] = Field(description="Component key → period carried.")
    dropped: list[str]
    reweighted: bool


class UncertaintyRead(BaseModel):
    """Monte Carlo summary of ``W`` (sample sd, ddof 1; linear percentiles)."""

    draws: int
    seed: int
    mean: float
    sd: float
    p5: float
    p50: float
    p95: float


class CertificationRead(BaseModel):
    """Who certified a measurement: always a passed ``certify_measurement`` motion."""

    motion_id: int
    certified_at: datetime


class MeasurementPreviewRead(BaseModel):
    """A computed welfare value with everything needed to check it."""

    version_id: str
    entity: str
    period: str
    cutoff: date
    value: float = Field(description="W, from the central values (never the Monte Carlo mean).")
    components: list[ComponentRead]
    missing: MissingRead
    monte_carlo: int
    uncertainty: UncertaintyRead | None

    @classmethod
    def of(
        cls, version_id: str, result: MeasurementResult, monte_carlo: int
    ) -> MeasurementPreviewRead:
        """From the pure result."""
        return cls(**_computed(version_id, result, monte_carlo))


class MeasurementRead(MeasurementPreviewRead):
    """A stored measurement (never changed, except that a motion may certify it once)."""

    id: int
    computed_by_account_id: int | None
    computed_at: datetime
    certification: CertificationRead | None = Field(description="Null until certified.")

    @classmethod
    def stored(cls, measurement: Measurement) -> MeasurementRead:
        """From the ORM row."""
        certification = None
        if measurement.certified_at is not None and measurement.certified_by_motion_id is not None:
            certification = CertificationRead(
                motion_id=measurement.certified_by_motion_id,
                certified_at=measurement.certified_at,
            )
        return cls.model_validate(
            {
                "id": measurement.id,
                "version_id": measurement.version_id,
                "entity": measurement.entity,
                "period": measurement.period,
                "cutoff": measurement.cutoff,
                "value": measurement.value,
                "components": measurement.breakdown,
                "missing": measurement.missing,
                "monte_carlo": measurement.monte_carlo,
                "uncertainty": measurement.uncertainty,
                "computed_by_account_id": measurement.computed_by_account_id,
                "computed_at": measurement.computed_at,
                "certification": certification,
            }
        )


def _computed(version_id: str, result: MeasurementResult, monte_carlo: int) -> dict[str, Any]:
    return {
        "version_id": version_id,
        "entity": result.entity,
        "period": result.period,
        "cutoff": result.cutoff,
        "value": result.value,
        "components": [ComponentRead.model_validate(c) for c in result.breakdown_json()],
        "missing": MissingRead.model_validate(result.missing.to_json()),
        "monte_carlo": monte_carlo,
        "uncertainty": (
            None
            if result.uncertainty is None
            else UncertaintyRead.model_validate(result.uncertainty.to_json())
        ),
    }
