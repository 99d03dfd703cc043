"""Schemas for metric versions: a definition in, a content-addressed version out, diffs.

The input mirrors the definition's JSON form (`welfare.metric`): these models type the
fields and refuse unknown ones; `welfare.metric.parse_definition` then checks the meaning
(weights summing to 1, ordered goalposts, known indicators in their units, …) and reports
every problem at once. Numbers must be JSON numbers (``"0.5"`` is refused, not coerced),
so what is hashed is exactly what was sent. Fields left out take the definition's
defaults, and a default spelled out gives the same version id as one left out.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat

from api.schemas.base import FreeText, RequestModel
from welfare.gapminder_data import HDI_LIKE_DEFINITION
from welfare.metric import (
    MAX_COMPONENTS,
    Aggregation,
    FieldChange,
    MissingPolicy,
    NormKind,
    VintagePolicy,
    to_dict,
)
from welfare.metric_service import definition_of
from welfare.records import MetricVersion, VersionStatus

VERSION_ID_PATTERN = "^[0-9a-f]{64}$"
"""A version id: the SHA-256 of the canonical JSON, 64 lowercase hex digits."""


class NormalisationSpec(RequestModel):
    """How a component's value becomes a score (formulas in `welfare.aggregation`)."""

    model_config = ConfigDict(extra="forbid")

    kind: NormKind = Field(default=NormKind.GOALPOSTS, examples=["goalposts"])
    lo: StrictFloat | None = Field(default=None, description="Lower goalpost (goalposts).")
    hi: StrictFloat | None = Field(default=None, description="Upper goalpost (goalposts).")
    target: StrictFloat | None = Field(default=None, description="Target (target).")
    scale: StrictFloat | None = Field(default=None, description="Scale > 0 (target).")


class ComponentSpec(RequestModel):
    """One indicator's part in the metric."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=64, examples=["health"])
    indicator: str = Field(max_length=64, description="An indicator key.", examples=["lifeExp"])
    unit: str = Field(max_length=64, description="Must equal the indicator's unit.")
    weight: StrictFloat = Field(description="≥ 0; the weights sum to 1 unless money_sum.")
    direction: Literal[1, -1] = Field(default=1, description="1: higher is better; -1: lower.")
    log: StrictBool = Field(default=False, description="Take ln of the value first.")
    normalisation: NormalisationSpec | None = Field(
        default=None, description="Default: goalposts (which need lo and hi)."
    )


class MetricVersionCreate(RequestModel):
    """A metric definition, to store as a draft version (the body is the definition)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [HDI_LIKE_DEFINITION]})

    schema_version: Literal[1] = Field(
        default=1, alias="schema", description="The definition format."
    )
    name: str = Field(max_length=200)
    description: FreeText = Field(default="", max_length=4000)
    entity: str = Field(max_length=100, description="What is measured, e.g. World.")
    unit: str = Field(max_length=64, description="The unit of W, e.g. index.")
    lo: StrictFloat = Field(description="Lower tradable bound of W.")
    hi: StrictFloat = Field(description="Upper tradable bound of W (> lo).")
    aggregation: Aggregation = Aggregation.WEIGHTED_ARITHMETIC
    missing_policy: MissingPolicy = MissingPolicy.FAIL
    vintage_policy: VintagePolicy = VintagePolicy.AS_OF_CUTOFF
    components: list[ComponentSpec] = Field(min_length=1, max_length=MAX_COMPONENTS)

    def definition(self) -> dict[str, Any]:
        """The definition's JSON form, only with the fields sent (defaults stay the
        service's)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class MetricVersionRead(BaseModel):
    """A stored version: immutable definition, and its adoption once a motion passed."""

    version_id: str = Field(description="SHA-256 (hex) of the UTF-8 ``canonical`` text.")
    name: str
    status: VersionStatus
    effective_from: date | None = Field(description="In force from this day (adopted only).")
    adopted_by_motion_id: int | None
    adopted_at: datetime | None
    created_by_account_id: int | None
    created_at: datetime
    canonical: str = Field(description="The canonical JSON that was hashed.")
    definition: dict[str, Any] = Field(
        description="The parsed definition, every field spelled out."
    )

    @classmethod
    def of(cls, version: MetricVersion) -> MetricVersionRead:
        """From the ORM row."""
        return cls(**_fields(version))


class MetricVersionCreated(MetricVersionRead):
    """The version a definition is stored as, and whether this request created it."""

    created: bool = Field(description="False: that exact definition was a version already.")

    @classmethod
    def made(cls, version: MetricVersion, *, created: bool) -> MetricVersionCreated:
        """From the ORM row and whether it is new."""
        return cls(**_fields(version), created=created)


def _fields(version: MetricVersion) -> dict[str, Any]:
    return {
        "version_id": version.version_id,
        "name": version.name,
        "status": VersionStatus(version.status),
        "effective_from": version.effective_from,
        "adopted_by_motion_id": version.adopted_by_motion_id,
        "adopted_at": version.adopted_at,
        "created_by_account_id": version.created_by_account_id,
        "created_at": version.created_at,
        "canonical": version.canonical,
        "definition": to_dict(definition_of(version)),
    }


class FieldChangeRead(BaseModel):
    """One field that differs; a whole component added or removed has null on one side."""

    path: str = Field(examples=["components.health.weight"])
    before: Any = Field(examples=[0.5])
    after: Any = Field(examples=[0.6])

    @classmethod
    def of(cls, change: FieldChange) -> FieldChangeRead:
        """From the pure diff."""
        return cls(path=change.path, before=change.before, after=change.after)


class MetricDiffRead(BaseModel):
    """The changes from one version to another (empty iff they are the same version)."""

    from_version_id: str
    to_version_id: str
    changes: list[FieldChangeRead]
