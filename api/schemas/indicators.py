"""Schemas for indicators and their observations (values with a release date, a vintage).

Dates are ISO calendar dates, ``YYYY-MM-DD``, and nothing else: pydantic alone would also
take a Unix timestamp (``0`` → 1970-01-01), which no data steward means. Values and
standard errors are finite with magnitude at most 1e15 (`MAX_ABS_VALUE`); ``NaN`` and
``Infinity`` are refused.

Lists are pages (`db.paging`). A page of observations is also served as CSV
(`observations_csv`), where a text cell a spreadsheet would run as a formula is
neutralised (`csv_safe`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt

from api.schemas.base import FreeText, RequestModel
from welfare.observation_service import (
    MAX_ABS_VALUE,
    MAX_ENTITY,
    MAX_SOURCE,
    CsvImport,
    ObservationInput,
)
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
    """An indicator (its id is the paging key)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    unit: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, indicator: Indicator) -> IndicatorRead:
        """From the ORM row."""
        return cls.model_validate(indicator)


class IndicatorPage(BaseModel):
    """A page of indicators by id. To read on, pass ``after_id`` = ``next_after_id``."""

    indicators: list[IndicatorRead]
    next_after_id: int | None


# --- observations -------------------------------------------------------------------------


class ObservationCreate(RequestModel):
    """One observation to append. A revision is a new observation with a later
    ``release_date``; nothing stored is ever changed."""

    model_config = ConfigDict(extra="forbid")

    entity: str = Field(min_length=1, max_length=MAX_ENTITY, examples=["World"])
    period: Period = Field(examples=[2007])
    value: StrictFloat = Field(
        ge=-MAX_ABS_VALUE,
        le=MAX_ABS_VALUE,
        allow_inf_nan=False,
        description="In the indicator's unit; finite, between -1e15 and 1e15.",
        examples=[67.0],
    )
    release_date: IsoDate = Field(description="When this value was published (its vintage).")
    std_error: StrictFloat | None = Field(
        default=None,
        ge=0,
        le=MAX_ABS_VALUE,
        allow_inf_nan=False,
        description="Standard error, same unit; finite, between 0 and 1e15.",
        examples=[0.3],
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


class ObservationPage(BaseModel):
    """A page of observations by id. To read on, pass ``after_id`` = ``next_after_id``."""

    observations: list[ObservationRead]
    next_after_id: int | None


CSV_COLUMNS = (
    "id",
    "indicator",
    "entity",
    "period",
    "value",
    "std_error",
    "release_date",
    "source",
    "created_at",
)
"""The columns of the CSV export, in order (``id``, ``value`` and ``std_error`` are numbers;
an empty ``std_error`` is unknown)."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet will not run: prefixed with ``'`` when it begins
    with ``=``, ``+``, ``-``, ``@``, tab or carriage return (OWASP, CSV injection). Only text
    cells pass here; numbers are written as numbers."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def observations_csv(observations: Sequence[ObservationRead]) -> str:
    """A page of observations as CSV (RFC 4180: CRLF line ends, quotes where needed): a
    header row of `CSV_COLUMNS`, then one row per observation, text cells `csv_safe`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for o in observations:
        writer.writerow(
            (
                o.id,
                csv_safe(o.indicator),
                csv_safe(o.entity),
                csv_safe(o.period),
                repr(o.value),
                "" if o.std_error is None else repr(o.std_error),
                o.release_date.isoformat(),
                csv_safe(o.source),
                o.created_at.isoformat(),
            )
        )
    return out.getvalue()


class CsvImportRead(BaseModel):
    """What a CSV import appended."""

    imported: int = Field(description="Observations appended (every data line).")
    by_indicator: dict[str, int] = Field(description="Observations appended per indicator key.")

    @classmethod
    def of(cls, result: CsvImport) -> CsvImportRead:
        """From the service's summary."""
        return cls(imported=result.imported, by_indicator=result.by_indicator)
