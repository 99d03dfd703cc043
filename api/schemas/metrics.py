"""Schemas for metric versions: a definition in, a content-addressed version out, diffs.

The input mirrors the definition's JSON form (`welfare.metric`): these models document
the fields' types for the OpenAPI and read a well-typed body; `welfare.metric.parse_definition`
checks every one of those types again and the meaning besides (finite numbers within their
bounds, weights summing to 1, ordered goalposts, known indicators in their units, …) and
reports every problem at once, each with its field's path (``components[0].weight``). So
that a type error cannot hide the other problems, a body that fails these models' types is
handed on as sent, and the one 422 lists them all (`MetricVersionCreate`). Numbers must be
JSON numbers (``"0.5"`` is refused, not coerced), so what is hashed is exactly what was
sent. Fields left out take the definition's defaults, and a default spelled out gives the
same version id as one left out.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    ValidationError,
    model_validator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from api.schemas.base import FreeText, RequestModel
from welfare.gapminder_data import HDI_LIKE_DEFINITION
from welfare.metric import (
    MAX_COMPONENTS,
    MAX_MAGNITUDE,
    MAX_MONEY_WEIGHT,
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
    lo: StrictFloat | None = Field(
        default=None, description=f"Lower goalpost (goalposts), |lo| ≤ {MAX_MAGNITUDE:g}."
    )
    hi: StrictFloat | None = Field(
        default=None, description=f"Upper goalpost (goalposts), |hi| ≤ {MAX_MAGNITUDE:g}."
    )
    target: StrictFloat | None = Field(
        default=None, description=f"Target (target), |target| ≤ {MAX_MAGNITUDE:g}."
    )
    scale: StrictFloat | None = Field(
        default=None, description=f"Scale (target), 0 < scale ≤ {MAX_MAGNITUDE:g}."
    )


class ComponentSpec(RequestModel):
    """One indicator's part in the metric."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=64, examples=["health"])
    indicator: str = Field(max_length=64, description="An indicator key.", examples=["lifeExp"])
    unit: str = Field(max_length=64, description="Must equal the indicator's unit.")
    weight: StrictFloat = Field(
        description=(
            f"In [0, 1], the weights summing to 1; under money_sum in [0, {MAX_MONEY_WEIGHT:g}]."
        )
    )
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
    lo: StrictFloat = Field(description=f"Lower tradable bound of W, |lo| ≤ {MAX_MAGNITUDE:g}.")
    hi: StrictFloat = Field(
        description=f"Upper tradable bound of W (> lo), |hi| ≤ {MAX_MAGNITUDE:g}."
    )
    aggregation: Aggregation = Aggregation.WEIGHTED_ARITHMETIC
    missing_policy: MissingPolicy = MissingPolicy.FAIL
    vintage_policy: VintagePolicy = VintagePolicy.AS_OF_CUTOFF
    components: list[ComponentSpec] = Field(min_length=1, max_length=MAX_COMPONENTS)

    _as_sent: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem_at_once(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """A JSON object that fails these types is kept as sent instead of refused here.

        `welfare.metric.parse_definition` checks every type declared above again (unknown
        fields, strings, numbers and not booleans, enums, lengths, control characters) and
        everything these types cannot say, and the service adds the indicator checks: so
        the 422 it raises names a type error together with every other problem, where a
        refusal here would have hidden the rest.
        """
        try:
            return handler(data)
        except ValidationError:
            if not isinstance(data, dict):
                raise
            no_fields: dict[str, Any] = {}
            unchecked = cls.model_construct(**no_fields)
            unchecked._as_sent = data
            return unchecked

    def definition(self) -> dict[str, Any]:
        """The definition's JSON form, only with the fields sent (defaults stay the
        service's); a body that failed the types above, exactly as sent."""
        if self._as_sent is not None:
            return self._as_sent
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


class MetricVersionPage(BaseModel):
    """A page of versions, oldest first (`db.paging`; here ``after_id`` counts the versions
    already read, as a version's key is its SHA-256)."""

    versions: list[MetricVersionRead]
    next_after_id: int | None = Field(
        description="Send as after_id for the next page; null on the last page."
    )


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
