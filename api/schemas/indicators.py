"""Schemas for indicators and their observations (values with a release date, a vintage).

Dates are ISO calendar dates, ``YYYY-MM-DD``, and nothing else: pydantic alone would also
take a Unix timestamp (``0`` → 1970-01-01), which no data steward means.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt

from api.schemas.base import FreeText, RequestModel
from welfare.observation_service import MAX_ENTITY, MAX_SOURCE, ObservationInput
from welfare.records import Indicator, Observation

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_only(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(f"must be a date written YYYY-MM-DD, not {value!r}")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_only)]
"""A calendar date written ``YYYY-MM-DD``."""

Period = StrictInt | Annotated[str, Field(max_length=20)]
"""A year (``2007`` or ``"2007"``), a quarter (``"2007-Q3"``) or a month (``"2007-09"``)."""


# --- indicators ---------------------------------------------------------------------------


class IndicatorCreate(RequestModel):
    """A new indicator (admin only): a measured quantity and its unit. Never redefined."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1,
        max_length=64,
        description="Starts with a letter; letters, digits and _.",
        examples=["lifeExp"],
    )
    unit: str = Field(min_length=1, max_length=64, examples=["years"])
    description: FreeText = Field(
        default="", max_length=4000, examples=["Life expectancy at birth"]
    )


class IndicatorRead(BaseModel):
    """An indicator."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    unit: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, indicator: Indicator) -> IndicatorRead:
        """From the ORM row."""
        return cls.model_validate(indicator)


# --- observations -------------------------------------------------------------------------


class ObservationCreate(RequestModel):
    """One observation to append. A revision is a new observation with a later
    ``release_date``; nothing stored is ever changed."""

    model_config = ConfigDict(extra="forbid")

    entity: str = Field(min_length=1, max_length=MAX_ENTITY, examples=["World"])
    period: Period = Field(examples=[2007])
    value: StrictFloat = Field(description="In the indicator's unit.", examples=[67.0])
    release_date: IsoDate = Field(description="When this value was published (its vintage).")
    std_error: StrictFloat | None = Field(
        default=None, description="Standard error, same unit, ≥ 0.", examples=[0.3]
    )
    source: str = Field(default="", max_length=MAX_SOURCE, examples=["gapminder"])

    def to_input(self) -> ObservationInput:
        """The service's input."""
        return ObservationInput(
            entity=self.entity,
            period=self.period,
            value=self.value,
            release_date=self.release_date,
            std_error=self.std_error,
            source=self.source,
        )


class ObservationRead(BaseModel):
    """A stored observation (its id is the append order, which breaks release-date ties)."""

    id: int
    indicator: str
    entity: str
    period: str
    value: float
    std_error: float | None
    release_date: date
    source: str
    created_at: datetime

    @classmethod
    def of(cls, observation: Observation, indicator_key: str) -> ObservationRead:
        """From the ORM row and its indicator's key."""
        return cls(
            id=observation.id,
            indicator=indicator_key,
            entity=observation.entity,
            period=observation.period,
            value=observation.value,
            std_error=observation.std_error,
            release_date=observation.release_date,
            source=observation.source,
            created_at=observation.created_at,
        )


class CsvImportRead(BaseModel):
    """What a CSV import appended."""

    imported: int = Field(description="Observations appended (every data line).")
    by_indicator: dict[str, int] = Field(description="Observations appended per indicator key.")
