"""Metric definitions: what the council votes on when it adopts a *metric version*.

A `MetricDefinition` says how to turn observations into one welfare number ``W``:

- components, each an indicator (by key) with its unit, a direction (``+1`` higher is
  better, ``-1`` lower is better), an optional natural-log transform, a normalisation and a
  weight;
- an aggregation of the normalised components (`Aggregation`);
- a missing-data policy (`MissingPolicy`) and a vintage policy (`VintagePolicy`, which data
  release settles);
- the entity measured (e.g. ``"World"`` or a country), the unit of ``W`` and the tradable
  bounds ``lo < hi`` that markets bound to this version use.

`welfare.aggregation` states every formula. This module is pure: parsing with validation
(`parse_definition`, every problem reported at once as `InvalidMetricDefinition`),
canonical JSON (`canonical_json`), the version id (`version_id`, SHA-256 hex of the
canonical JSON) and `diff`.

Canonical JSON, and so the id, is invariant under key order, whitespace, the order of the
components (they are sorted by key), ``1`` versus ``1.0`` (every number field is a float),
``-0.0`` versus ``0.0`` and fields left at their default versus spelled out; any change of
meaning (a weight, a goalpost, the direction, the policy, a name) changes it. Floats are
written with Python's shortest round-trip ``repr``, which is stable across platforms.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from welfare.errors import InvalidMetricDefinition

SCHEMA = 1
"""Version of the definition format, part of the canonical JSON."""

WEIGHT_SUM_TOLERANCE = 1e-9
"""Weights of an arithmetic or geometric mean must sum to 1 within this absolute tolerance
(so ``1/3`` written as ``0.3333333333333333`` three times is accepted)."""

MAX_COMPONENTS = 50
_E = TypeVar("_E", bound=enum.Enum)
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class Direction(enum.IntEnum):
    """Whether more of an indicator is better (``+1``) or worse (``-1``)."""

    HIGHER_IS_BETTER = 1
    LOWER_IS_BETTER = -1


class NormKind(enum.StrEnum):
    """How a component's (transformed) value becomes a score; formulas in
    `welfare.aggregation.normalise`."""

    GOALPOSTS = "goalposts"
    MINMAX = "minmax"
    ZSCORE = "zscore"
    TARGET = "target"
    NONE = "none"


class Aggregation(enum.StrEnum):
    """How the component scores combine into ``W``."""

    WEIGHTED_ARITHMETIC = "weighted_arithmetic"
    WEIGHTED_GEOMETRIC = "weighted_geometric"
    MONEY_SUM = "money_sum"


class MissingPolicy(enum.StrEnum):
    """What happens when a component has no value for the measured period."""

    FAIL = "fail"
    CARRY_FORWARD = "carry_forward"
    DROP_AND_REWEIGHT = "drop_and_reweight"


class VintagePolicy(enum.StrEnum):
    """Which release of an observation counts: the newest known at the cut-off, or the
    first release (also only if released by the cut-off)."""

    AS_OF_CUTOFF = "as_of_cutoff"
    FIRST_RELEASE = "first_release"


@dataclass(frozen=True, slots=True)
class Normalisation:
    """A normalisation and its parameters (in the component's *transformed* units' source
    scale: goalposts and target are given in raw units and log-transformed with the value).

    Attributes:
        kind: the method.
        lo, hi: goalposts (``goalposts`` only), ``lo < hi``.
        target, scale: distance-to-target (``target`` only), ``scale > 0``.
    """

    kind: NormKind = NormKind.GOALPOSTS
    lo: float | None = None
    hi: float | None = None
    target: float | None = None
    scale: float | None = None


@dataclass(frozen=True, slots=True)
class Component:
    """One indicator's part in the metric.

    Attributes:
        key: the component's name inside the metric (unique), e.g. ``"health"``.
        indicator: the indicator key its observations come from, e.g. ``"lifeExp"``.
        unit: the indicator's unit (checked against the indicator when stored).
        weight: its weight, ``≥ 0``.
        direction: `Direction`.
        log: take the natural log of the value (and of goalposts/target) first.
        normalisation: `Normalisation`.
    """

    key: str
    indicator: str
    unit: str
    weight: float
    direction: Direction = Direction.HIGHER_IS_BETTER
    log: bool = False
    normalisation: Normalisation = field(default_factory=Normalisation)


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """A whole metric version's definition (immutable; see the module docstring).

    Attributes:
        name: a short human name.
        description: free text.
        entity: what is measured, e.g. ``"World"``; observations are looked up for it.
        unit: the unit of ``W`` (``"index"`` for a [0, 1] score).
        lo, hi: tradable bounds, ``lo < hi``.
        aggregation, missing_policy, vintage_policy: see the enums.
        components: sorted by key.
    """

    name: str
    entity: str
    unit: str
    lo: float
    hi: float
    components: tuple[Component, ...]
    aggregation: Aggregation = Aggregation.WEIGHTED_ARITHMETIC
    missing_policy: MissingPolicy = MissingPolicy.FAIL
    vintage_policy: VintagePolicy = VintagePolicy.AS_OF_CUTOFF
    description: str = ""

    @property
    def indicators(self) -> tuple[str, ...]:
        """The distinct indicator keys the components read, sorted."""
        return tuple(sorted({c.indicator for c in self.components}))


# --- parsing and validation -----------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidMetricDefinition(
                "the metric definition is invalid: " + "; ".join(self.items)
            )


def _number(value: Any, where: str, problems: _Problems, *, required: bool = True) -> float | None:
    if value is None:
        if required:
            problems.add(f"{where} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(f"{where} must be a number, not {value!r}")
        return None
    number = float(value)
    if not math.isfinite(number):
        problems.add(f"{where} must be finite, not {value!r}")
        return None
    return number + 0.0  # -0.0 → 0.0


def _text(value: Any, where: str, problems: _Problems, *, max_len: int, empty: bool = False) -> str:
    if not isinstance(value, str):
        problems.add(f"{where} must be a string")
        return ""
    text = value.strip()
    if not text and not empty:
        problems.add(f"{where} must not be empty")
    if len(text) > max_len:
        problems.add(f"{where} is longer than {max_len} characters")
    return text


def _enum(cls: type[_E], value: Any, default: _E, where: str, problems: _Problems) -> _E:
    if value is None:
        return default
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        problems.add(f"{where} must be one of {allowed}, not {value!r}")
        return default


def _unknown_keys(data: Mapping[str, Any], allowed: set[str], where: str, p: _Problems) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        p.add(f"{where} has unknown field(s) {', '.join(unknown)}")


_NORM_FIELDS = {"kind", "lo", "hi", "target", "scale"}
_COMPONENT_FIELDS = {"key", "indicator", "unit", "weight", "direction", "log", "normalisation"}
_METRIC_FIELDS = {
    "schema",
    "name",
    "description",
    "entity",
    "unit",
    "lo",
    "hi",
    "aggregation",
    "missing_policy",
    "vintage_policy",
    "components",
}


def _parse_normalisation(data: Any, where: str, log: bool, problems: _Problems) -> Normalisation:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        problems.add(f"{where} must be an object")
        return Normalisation()
    _unknown_keys(data, _NORM_FIELDS, where, problems)
    kind = _enum(NormKind, data.get("kind"), NormKind.GOALPOSTS, f"{where}.kind", problems)
    given = {name for name in ("lo", "hi", "target", "scale") if data.get(name) is not None}
    needed = {
        NormKind.GOALPOSTS: {"lo", "hi"},
        NormKind.TARGET: {"target", "scale"},
    }.get(kind, set())
    extra = sorted(given - needed)
    if extra:
        problems.add(f"{where}: {kind.value} takes no {', '.join(extra)}")
    lo = hi = target = scale = None
    if kind is NormKind.GOALPOSTS:
        lo = _number(data.get("lo"), f"{where}.lo", problems)
        hi = _number(data.get("hi"), f"{where}.hi", problems)
        if lo is not None and hi is not None:
            if not lo < hi:
                problems.add(f"{where}: goalposts must be ordered, lo {lo!r} < hi {hi!r}")
            if log and lo <= 0:
                problems.add(f"{where}: a log-transformed component needs goalposts > 0")
    elif kind is NormKind.TARGET:
        target = _number(data.get("target"), f"{where}.target", problems)
        scale = _number(data.get("scale"), f"{where}.scale", problems)
        if scale is not None and scale <= 0:
            problems.add(f"{where}: the distance-to-target scale must be > 0")
        if log and target is not None and target <= 0:
            problems.add(f"{where}: a log-transformed component needs a target > 0")
    return Normalisation(kind=kind, lo=lo, hi=hi, target=target, scale=scale)


def _parse_component(data: Any, index: int, problems: _Problems) -> Component | None:
    where = f"components[{index}]"
    if not isinstance(data, Mapping):
        problems.add(f"{where} must be an object")
        return None
    _unknown_keys(data, _COMPONENT_FIELDS, where, problems)
    key = _text(data.get("key"), f"{where}.key", problems, max_len=64)
    if key and not _KEY.match(key):
        problems.add(f"{where}.key {key!r} must start with a letter and use letters, digits, _ . -")
    where = f"component {key!r}" if key else where
    indicator = _text(data.get("indicator"), f"{where} indicator", problems, max_len=64)
    unit = _text(data.get("unit"), f"{where} unit", problems, max_len=64)
    weight = _number(data.get("weight"), f"{where} weight", problems)
    if weight is not None and weight < 0:
        problems.add(f"{where} weight must be ≥ 0, not {weight!r}")
    raw_direction = data.get("direction", 1)
    direction = Direction.HIGHER_IS_BETTER
    if isinstance(raw_direction, bool) or raw_direction not in (1, -1):
        problems.add(f"{where} direction must be 1 (higher is better) or -1 (lower is better)")
    else:
        direction = Direction(int(raw_direction))
    log = data.get("log", False)
    if not isinstance(log, bool):
        problems.add(f"{where} log must be true or false")
        log = False
    norm = _parse_normalisation(data.get("normalisation"), f"{where} normalisation", log, problems)
    if norm.kind is NormKind.TARGET and direction is Direction.LOWER_IS_BETTER:
        problems.add(f"{where}: distance to target has no direction; use direction 1")
    return Component(
        key=key,
        indicator=indicator,
        unit=unit,
        weight=weight if weight is not None else 0.0,
        direction=direction,
        log=log,
        normalisation=norm,
    )


def parse_definition(data: Any) -> MetricDefinition:
    """Build and validate a definition from its JSON form.

    Rules: every field typed as documented; at least one component, unique component keys;
    weights ``≥ 0`` with at least one ``> 0``, summing to 1 (within
    `WEIGHT_SUM_TOLERANCE`) for the arithmetic and geometric means; goalposts ordered
    ``lo < hi`` (and ``> 0`` under a log transform); bounds ordered; units present;
    ``money_sum`` exactly with normalisation ``none``, every component in the metric's
    unit, no log transform, and not with ``drop_and_reweight`` (a money total cannot be
    re-weighted); ``none`` only under ``money_sum``; ``zscore`` not under the geometric mean
    (z-scores are signed); a distance to target has direction 1.

    Raises:
        InvalidMetricDefinition: listing every problem found, in one message.
    """
    problems = _Problems()
    if not isinstance(data, Mapping):
        problems.add("it must be a JSON object")
        problems.raise_if_any()
    assert isinstance(data, Mapping)
    _unknown_keys(data, _METRIC_FIELDS, "the definition", problems)
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA or isinstance(schema, bool):
        problems.add(f"schema must be {SCHEMA}")
    name = _text(data.get("name"), "name", problems, max_len=200)
    description = _text(
        data.get("description", ""), "description", problems, max_len=4000, empty=True
    )
    entity = _text(data.get("entity"), "entity", problems, max_len=100)
    unit = _text(data.get("unit"), "unit", problems, max_len=64)
    lo = _number(data.get("lo"), "lo (lower tradable bound)", problems)
    hi = _number(data.get("hi"), "hi (upper tradable bound)", problems)
    if lo is not None and hi is not None and not lo < hi:
        problems.add(f"the tradable bounds must be ordered, lo {lo!r} < hi {hi!r}")
    aggregation = _enum(
        Aggregation,
        data.get("aggregation"),
        Aggregation.WEIGHTED_ARITHMETIC,
        "aggregation",
        problems,
    )
    missing = _enum(
        MissingPolicy, data.get("missing_policy"), MissingPolicy.FAIL, "missing_policy", problems
    )
    vintage = _enum(
        VintagePolicy,
        data.get("vintage_policy"),
        VintagePolicy.AS_OF_CUTOFF,
        "vintage_policy",
        problems,
    )
    raw_components = data.get("components")
    components: list[Component] = []
    if not isinstance(raw_components, list) or not raw_components:
        problems.add("components must be a non-empty list")
    elif len(raw_components) > MAX_COMPONENTS:
        problems.add(f"a metric has at most {MAX_COMPONENTS} components")
    else:
        for index, raw in enumerate(raw_components):
            component = _parse_component(raw, index, problems)
            if component is not None:
                components.append(component)
    keys = [c.key for c in components]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        problems.add(f"component keys must be unique; repeated: {', '.join(duplicates)}")
    if components:
        total = math.fsum(c.weight for c in components)
        if all(c.weight == 0 for c in components):
            problems.add("at least one component needs a weight > 0")
        elif aggregation is not Aggregation.MONEY_SUM and not math.isclose(
            total, 1.0, rel_tol=0.0, abs_tol=WEIGHT_SUM_TOLERANCE
        ):
            problems.add(f"the weights must sum to 1, not {total!r}")
    for c in components:
        kind = c.normalisation.kind
        if aggregation is Aggregation.MONEY_SUM:
            if kind is not NormKind.NONE:
                problems.add(
                    f"component {c.key!r}: money_sum adds raw amounts; use normalisation none"
                )
            if unit and c.unit != unit:
                problems.add(
                    f"component {c.key!r}: money_sum needs every component in the metric's unit "
                    f"{unit!r}, not {c.unit!r}"
                )
            if c.log:
                problems.add(f"component {c.key!r}: money_sum adds raw amounts; no log transform")
        elif kind is NormKind.NONE:
            problems.add(f"component {c.key!r}: normalisation none is only for money_sum")
        if aggregation is Aggregation.WEIGHTED_GEOMETRIC and kind is NormKind.ZSCORE:
            problems.add(
                f"component {c.key!r}: z-scores are signed, so they cannot enter a geometric mean"
            )
    if aggregation is Aggregation.MONEY_SUM and missing is MissingPolicy.DROP_AND_REWEIGHT:
        problems.add("money_sum cannot drop_and_reweight: a money total cannot be re-weighted")
    problems.raise_if_any()
    assert lo is not None
    assert hi is not None
    return MetricDefinition(
        name=name,
        description=description,
        entity=entity,
        unit=unit,
        lo=lo,
        hi=hi,
        aggregation=aggregation,
        missing_policy=missing,
        vintage_policy=vintage,
        components=tuple(sorted(components, key=lambda c: c.key)),
    )


# --- canonical form, id, diff -------------------------------------------------------------


def _normalisation_dict(n: Normalisation) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": n.kind.value}
    for name in ("lo", "hi", "target", "scale"):
        value = getattr(n, name)
        if value is not None:
            out[name] = value
    return out


def to_dict(definition: MetricDefinition) -> dict[str, Any]:
    """The definition as plain JSON data, every field spelled out, components by key."""
    return {
        "schema": SCHEMA,
        "name": definition.name,
        "description": definition.description,
        "entity": definition.entity,
        "unit": definition.unit,
        "lo": definition.lo,
        "hi": definition.hi,
        "aggregation": definition.aggregation.value,
        "missing_policy": definition.missing_policy.value,
        "vintage_policy": definition.vintage_policy.value,
        "components": [
            {
                "key": c.key,
                "indicator": c.indicator,
                "unit": c.unit,
                "weight": c.weight,
                "direction": int(c.direction),
                "log": c.log,
                "normalisation": _normalisation_dict(c.normalisation),
            }
            for c in sorted(definition.components, key=lambda c: c.key)
        ],
    }


def canonical_json(definition: MetricDefinition) -> str:
    """Sorted keys, no whitespace, UTF-8 text, floats by shortest round-trip ``repr``."""
    return json.dumps(
        to_dict(definition),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def version_id(definition: MetricDefinition) -> str:
    """The version id: SHA-256 of the UTF-8 canonical JSON, 64 lowercase hex digits."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference between two definitions.

    ``path`` is dotted: ``"aggregation"``, ``"components.health.weight"``,
    ``"components.income.normalisation.hi"``; a component present on one side only is one
    change at ``"components.<key>"`` with ``None`` on the other side.
    """

    path: str
    before: Any
    after: Any


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, out)
    else:
        out[prefix] = value


def diff(a: MetricDefinition, b: MetricDefinition) -> list[FieldChange]:
    """Every field that differs from ``a`` to ``b``, sorted by path (empty iff same id)."""
    da, db = to_dict(a), to_dict(b)
    ca = {c["key"]: c for c in da.pop("components")}
    cb = {c["key"]: c for c in db.pop("components")}
    changes: list[FieldChange] = []
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flatten("", da, fa)
    _flatten("", db, fb)
    for key in sorted(ca.keys() | cb.keys()):
        if key not in cb:
            changes.append(FieldChange(f"components.{key}", ca[key], None))
        elif key not in ca:
            changes.append(FieldChange(f"components.{key}", None, cb[key]))
        else:
            _flatten(f"components.{key}", ca[key], fa)
            _flatten(f"components.{key}", cb[key], fb)
    for path in fa.keys() | fb.keys():
        before, after = fa.get(path), fb.get(path)
        if before != after or type(before) is not type(after):
            changes.append(FieldChange(path, before, after))
    return sorted(changes, key=lambda c: c.path)
