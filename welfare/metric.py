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
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from db import canonical
from db.text import FREE_TEXT_CONTROLS, control_character
from welfare.errors import DefinitionProblem, FieldPath, InvalidMetricDefinition

SCHEMA = 1
"""Version of the definition format, part of the canonical JSON."""

WEIGHT_SUM_TOLERANCE = 1e-9
"""Weights of an arithmetic or geometric mean must sum to 1 within this absolute tolerance
(so ``1/3`` written as ``0.3333333333333333`` three times is accepted)."""

MAX_COMPONENTS = 50
"""Most components one metric has."""

MAX_MAGNITUDE = 1e15
"""Largest magnitude of a goalpost, target, scale or tradable bound (in its own unit).

A quadrillion is beyond any quantity a welfare metric measures (world population ~1e10,
world GDP in US dollars ~1e14), yet float64 still resolves an eighth of a unit there, and
the arithmetic on these numbers (``hi − lo`` up to 2e15, ``(t − a)/(b − a)``) stays far from
overflow. Anything larger, or not finite, is refused with the field's path."""

MAX_MONEY_WEIGHT = 1e6
"""Largest weight of a ``money_sum`` component. Such a weight multiplies an amount already
in the metric's money unit (1 counts it once, 0.97 discounts it); a million is beyond any
such use. Under the weighted means weights lie in ``[0, 1]``, as they sum to 1."""

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

ComponentCheck = Callable[[Sequence[tuple[int, Component]]], Iterable[DefinitionProblem]]
"""A further check of the parsed components (each with its index in the ``components`` list),
e.g. that their indicators exist: it returns problems, which are listed with the rest."""


class _Problems:
    def __init__(self) -> None:
        self.items: list[DefinitionProblem] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.items.append(DefinitionProblem(path, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidMetricDefinition(self.items)


def _number(
    value: Any,
    path: FieldPath,
    problems: _Problems,
    *,
    bound: float = MAX_MAGNITUDE,
    required: bool = True,
) -> float | None:
    """A finite float within ``±bound``, or None after recording why not."""
    if value is None:
        if required:
            problems.add(path, "is required; send a number")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"must be a number, not {value!r}")
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number):
        problems.add(path, f"must be a finite number, not {value!r}")
        return None
    if abs(number) > bound:
        problems.add(
            path,
            f"{number!r} is beyond the bound ±{bound:g}; send a number in [-{bound:g}, {bound:g}]",
        )
        return None
    return number + 0.0  # -0.0 → 0.0


def _text(
    value: Any,
    path: FieldPath,
    problems: _Problems,
    *,
    max_len: int,
    empty: bool = False,
    free: bool = False,
) -> str:
    if not isinstance(value, str):
        problems.add(path, "must be a string")
        return ""
    text = value.strip()
    if not text and not empty:
        problems.add(path, "must not be empty")
    if len(text) > max_len:
        problems.add(path, f"is longer than {max_len} characters")
    found = control_character(text, allowed=FREE_TEXT_CONTROLS if free else frozenset())
    if found is not None:
        allowed = " (tab and line breaks are allowed here)" if free else ""
        problems.add(path, f"holds the control character {found}; send printable text{allowed}")
    return text


def _enum(cls: type[_E], value: Any, default: _E, path: FieldPath, problems: _Problems) -> _E:
    if value is None:
        return default
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        problems.add(path, f"must be one of {allowed}, not {value!r}")
        return default


def _unknown_keys(
    data: Mapping[str, Any], allowed: set[str], path: FieldPath, what: str, p: _Problems
) -> None:
    for key in sorted(set(data) - allowed, key=str):
        p.add((*path, key), f"is not a field of {what}; leave it out")


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


def _parse_normalisation(
    data: Any, path: FieldPath, log: bool, problems: _Problems
) -> Normalisation:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        problems.add(path, "must be an object")
        return Normalisation()
    _unknown_keys(data, _NORM_FIELDS, path, "a normalisation", problems)
    kind = _enum(NormKind, data.get("kind"), NormKind.GOALPOSTS, (*path, "kind"), problems)
    given = {name for name in ("lo", "hi", "target", "scale") if data.get(name) is not None}
    needed = {
        NormKind.GOALPOSTS: {"lo", "hi"},
        NormKind.TARGET: {"target", "scale"},
    }.get(kind, set())
    extra = sorted(given - needed)
    if extra:
        problems.add(path, f"{kind.value} takes no {', '.join(extra)}; leave it out")
    lo = hi = target = scale = None
    if kind is NormKind.GOALPOSTS:
        lo = _number(data.get("lo"), (*path, "lo"), problems)
        hi = _number(data.get("hi"), (*path, "hi"), problems)
        if lo is not None and hi is not None:
            if not lo < hi:
                problems.add(path, f"goalposts must be ordered, lo {lo!r} < hi {hi!r}")
            elif log and lo <= 0:
                problems.add(path, "a log-transformed component needs goalposts > 0")
            elif log and not math.log(lo) < math.log(hi):
                problems.add(
                    path,
                    f"the goalposts {lo!r} and {hi!r} have the same logarithm, so they cannot "
                    "tell values apart; send goalposts further apart",
                )
    elif kind is NormKind.TARGET:
        target = _number(data.get("target"), (*path, "target"), problems)
        scale = _number(data.get("scale"), (*path, "scale"), problems)
        if scale is not None and scale <= 0:
            problems.add(
                (*path, "scale"), f"the distance-to-target scale must be > 0, not {scale!r}"
            )
        if log and target is not None and target <= 0:
            problems.add((*path, "target"), "a log-transformed component needs a target > 0")
    return Normalisation(kind=kind, lo=lo, hi=hi, target=target, scale=scale)


def _weight_range(aggregation: Aggregation) -> float:
    return MAX_MONEY_WEIGHT if aggregation is Aggregation.MONEY_SUM else 1.0


def _parse_component(
    data: Any, index: int, aggregation: Aggregation, aggregation_known: bool, problems: _Problems
) -> tuple[Component, bool] | None:
    """The component (with defaults where a field failed) and whether its weight is valid."""
    path: FieldPath = ("components", index)
    if not isinstance(data, Mapping):
        problems.add(path, "must be an object")
        return None
    _unknown_keys(data, _COMPONENT_FIELDS, path, "a component", problems)
    key = _text(data.get("key"), (*path, "key"), problems, max_len=64)
    if key and not _KEY.match(key):
        problems.add(
            (*path, "key"), f"{key!r} must start with a letter and use letters, digits, _ . -"
        )
    indicator = _text(data.get("indicator"), (*path, "indicator"), problems, max_len=64)
    unit = _text(data.get("unit"), (*path, "unit"), problems, max_len=64)
    top = _weight_range(aggregation) if aggregation_known else MAX_MONEY_WEIGHT
    weight = _number(data.get("weight"), (*path, "weight"), problems, bound=MAX_MONEY_WEIGHT)
    if weight is not None and not 0 <= weight <= top:
        what = (
            "a money_sum"
            if aggregation is Aggregation.MONEY_SUM or not aggregation_known
            else "a weighted mean"
        )
        problems.add((*path, "weight"), f"must lie in [0, {top:g}] in {what}, not {weight!r}")
        weight = None
    raw_direction = data.get("direction", 1)
    direction = Direction.HIGHER_IS_BETTER
    if isinstance(raw_direction, bool) or raw_direction not in (1, -1):
        problems.add((*path, "direction"), "must be 1 (higher is better) or -1 (lower is better)")
    else:
        direction = Direction(int(raw_direction))
    log = data.get("log", False)
    if not isinstance(log, bool):
        problems.add((*path, "log"), "must be true or false")
        log = False
    norm = _parse_normalisation(data.get("normalisation"), (*path, "normalisation"), log, problems)
    if norm.kind is NormKind.TARGET and direction is Direction.LOWER_IS_BETTER:
        problems.add((*path, "direction"), "a distance to target has no direction; send 1")
    component = Component(
        key=key,
        indicator=indicator,
        unit=unit,
        weight=weight if weight is not None else 0.0,
        direction=direction,
        log=log,
        normalisation=norm,
    )
    return component, weight is not None


def parse_definition(data: Any, *, check: ComponentCheck | None = None) -> MetricDefinition:
    """Build and validate a definition from its JSON form, reporting every problem at once.

    Rules: every field typed as documented; at least one component (at most
    `MAX_COMPONENTS`), unique component keys; every number finite; goalposts, targets,
    scales and the tradable bounds within ``±MAX_MAGNITUDE`` (1e15); weights in ``[0, 1]``
    for the arithmetic and geometric means (summing to 1 within `WEIGHT_SUM_TOLERANCE`) and
    in ``[0, MAX_MONEY_WEIGHT]`` (1e6) under ``money_sum``, with at least one ``> 0``;
    goalposts ordered ``lo < hi`` (and ``> 0`` with distinct logarithms under a log
    transform); bounds ordered; units present; no control characters in text (tab and line
    breaks only in the description); ``money_sum`` exactly with normalisation ``none``,
    every component in the metric's unit, no log transform, and not with
    ``drop_and_reweight`` (a money total cannot be re-weighted); ``none`` only under
    ``money_sum``; ``zscore`` not under the geometric mean (z-scores are signed); a distance
    to target has direction 1.

    Args:
        data: the definition's JSON form (a mapping).
        check: a further check of the components (`ComponentCheck`), run even when other
            problems were found, so that its problems are listed with every other one.

    Raises:
        InvalidMetricDefinition: listing every problem found, each with its field's path
            (``components[0].weight``), in one message and in ``problems``.
    """
    problems = _Problems()
    if not isinstance(data, Mapping):
        problems.add((), "the definition must be a JSON object")
        problems.raise_if_any()
    assert isinstance(data, Mapping)
    _unknown_keys(data, _METRIC_FIELDS, (), "a metric definition", problems)
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA or isinstance(schema, bool):
        problems.add(("schema",), f"must be {SCHEMA}, not {schema!r}")
    name = _text(data.get("name"), ("name",), problems, max_len=200)
    description = _text(
        data.get("description", ""), ("description",), problems, max_len=4000, empty=True, free=True
    )
    entity = _text(data.get("entity"), ("entity",), problems, max_len=100)
    unit = _text(data.get("unit"), ("unit",), problems, max_len=64)
    lo = _number(data.get("lo"), ("lo",), problems)
    hi = _number(data.get("hi"), ("hi",), problems)
    if lo is not None and hi is not None and not lo < hi:
        problems.add((), f"the tradable bounds must be ordered, lo {lo!r} < hi {hi!r}")
    before = len(problems.items)
    aggregation = _enum(
        Aggregation,
        data.get("aggregation"),
        Aggregation.WEIGHTED_ARITHMETIC,
        ("aggregation",),
        problems,
    )
    # with an unknown aggregation, the rules that depend on it (the weights' range and sum)
    # are not checked against a guessed one
    aggregation_known = len(problems.items) == before
    missing = _enum(
        MissingPolicy, data.get("missing_policy"), MissingPolicy.FAIL, ("missing_policy",), problems
    )
    vintage = _enum(
        VintagePolicy,
        data.get("vintage_policy"),
        VintagePolicy.AS_OF_CUTOFF,
        ("vintage_policy",),
        problems,
    )
    raw_components = data.get("components")
    parsed: list[tuple[int, Component]] = []
    weights_valid = True
    if not isinstance(raw_components, list) or not raw_components:
        problems.add(("components",), "must be a non-empty list of components")
    elif len(raw_components) > MAX_COMPONENTS:
        problems.add(("components",), f"a metric has at most {MAX_COMPONENTS} components")
    else:
        for index, raw in enumerate(raw_components):
            found = _parse_component(raw, index, aggregation, aggregation_known, problems)
            if found is None:
                weights_valid = False
            else:
                parsed.append((index, found[0]))
                weights_valid = weights_valid and found[1]
    components = [c for _, c in parsed]
    keys = [c.key for c in components if c.key]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        problems.add(
            ("components",), f"component keys must be unique; repeated: {', '.join(duplicates)}"
        )
    if components and weights_valid and aggregation_known:
        # every weight is within [0, 1e6] here, so the sum is far from overflowing
        total = math.fsum(c.weight for c in components)
        if all(c.weight == 0 for c in components):
            problems.add(("components",), "at least one component needs a weight > 0")
        elif aggregation is not Aggregation.MONEY_SUM and not math.isclose(
            total, 1.0, rel_tol=0.0, abs_tol=WEIGHT_SUM_TOLERANCE
        ):
            problems.add(("components",), f"the weights must sum to 1, not {total!r}")
    for index, c in parsed:
        path: FieldPath = ("components", index)
        kind = c.normalisation.kind
        if aggregation is Aggregation.MONEY_SUM:
            if kind is not NormKind.NONE:
                problems.add(
                    (*path, "normalisation"), "money_sum adds raw amounts; use normalisation none"
                )
            if unit and c.unit and c.unit != unit:
                problems.add(
                    (*path, "unit"),
                    f"money_sum needs every component in the metric's unit {unit!r}, "
                    f"not {c.unit!r}",
                )
            if c.log:
                problems.add((*path, "log"), "money_sum adds raw amounts; send log false")
        elif kind is NormKind.NONE:
            problems.add((*path, "normalisation"), "normalisation none is only for money_sum")
        if aggregation is Aggregation.WEIGHTED_GEOMETRIC and kind is NormKind.ZSCORE:
            problems.add(
                (*path, "normalisation"),
                "z-scores are signed, so they cannot enter a geometric mean",
            )
    if aggregation is Aggregation.MONEY_SUM and missing is MissingPolicy.DROP_AND_REWEIGHT:
        problems.add(
            ("missing_policy",),
            "money_sum cannot drop_and_reweight: a money total cannot be re-weighted",
        )
    if check is not None:
        problems.items.extend(check(parsed))
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
    """The canonical JSON of `to_dict` (`db.canonical.encode`: sorted keys, no whitespace,
    UTF-8, floats by shortest round-trip ``repr``)."""
    return canonical.encode(to_dict(definition))


def version_id(definition: MetricDefinition) -> str:
    """The version id: SHA-256 of the UTF-8 canonical JSON, 64 lowercase hex digits."""
    return canonical.digest(to_dict(definition))


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
