"""Metric definitions: validation messages, canonical JSON and its SHA-256 id, diff."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.welfare.metric_examples import HDI_LIKE, hdi_like
from welfare.errors import DefinitionProblem, InvalidMetricDefinition
from welfare.metric import (
    MAX_MAGNITUDE,
    MAX_MONEY_WEIGHT,
    Aggregation,
    Direction,
    NormKind,
    canonical_json,
    diff,
    parse_definition,
    to_dict,
    version_id,
)


def vid(data: Any) -> str:
    return version_id(parse_definition(data))


def test_parse_reads_every_field_and_sorts_components() -> None:
    data = hdi_like(components=list(reversed(HDI_LIKE["components"])))
    definition = parse_definition(data)
    assert [c.key for c in definition.components] == ["health", "income"]
    income = definition.components[1]
    assert income.log is True
    assert income.direction is Direction.HIGHER_IS_BETTER
    assert income.normalisation.kind is NormKind.GOALPOSTS
    assert (income.normalisation.lo, income.normalisation.hi) == (100.0, 75000.0)
    assert definition.aggregation is Aggregation.WEIGHTED_GEOMETRIC
    assert definition.indicators == ("gdpPercap", "lifeExp")


def test_the_id_is_the_sha256_of_the_canonical_json() -> None:
    definition = parse_definition(HDI_LIKE)
    text = canonical_json(definition)
    assert " " not in text.replace("HDI-like demo", "").replace(
        "health from life expectancy, income from log GDP per head", ""
    )
    assert json.loads(text) == to_dict(definition)
    assert version_id(definition) == hashlib.sha256(text.encode()).hexdigest()
    assert len(version_id(definition)) == 64
    assert parse_definition(json.loads(text)) == definition  # the canonical form round-trips


def test_key_order_whitespace_and_spelled_out_defaults_keep_the_id() -> None:
    reference = vid(HDI_LIKE)
    reordered = json.loads(json.dumps(HDI_LIKE, sort_keys=True, indent=7))
    reordered = dict(reversed(list(reordered.items())))
    reordered["components"] = [dict(reversed(list(c.items()))) for c in reordered["components"]]
    assert vid(reordered) == reference
    # fields left out at their default, integers for floats, components in another order
    minimal = copy.deepcopy(HDI_LIKE)
    del minimal["missing_policy"], minimal["vintage_policy"]
    del minimal["components"][0]["direction"]
    minimal["lo"], minimal["hi"] = 0, 1
    minimal["components"].reverse()
    minimal["components"][0]["normalisation"]["hi"] = 75000.0
    minimal["schema"] = 1
    assert vid(minimal) == reference
    assert vid({**HDI_LIKE, "lo": -0.0}) == reference


@given(st.randoms(use_true_random=False))
def test_any_permutation_of_keys_and_components_keeps_the_id(rnd: Any) -> None:
    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            items = [shuffled(v) for v in value]
            rnd.shuffle(items)
            return items
        return value

    assert vid(shuffled(HDI_LIKE)) == vid(HDI_LIKE)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        *head, last = path.split(".")
        for part in head:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return change


SEMANTIC_CHANGES = {
    "weight": lambda d: (_set("components.0.weight", 0.4)(d), _set("components.1.weight", 0.6)(d)),
    "goalpost": _set("components.0.normalisation.lo", 25),
    "tiny goalpost change": _set("components.0.normalisation.hi", 85.000000001),
    "direction": _set("components.0.direction", -1),
    "log": _set("components.1.log", False),
    "indicator": _set("components.0.indicator", "lifeExpectancy"),
    "unit": _set("unit", "score"),
    "component unit": _set("components.0.unit", "months"),
    "bounds": _set("hi", 2),
    "aggregation": _set("aggregation", "weighted_arithmetic"),
    "missing policy": _set("missing_policy", "carry_forward"),
    "vintage policy": _set("vintage_policy", "first_release"),
    "entity": _set("entity", "Sweden"),
    "name": _set("name", "HDI-like demo v2"),
    "normalisation": _set("components.0.normalisation", {"kind": "minmax"}),
    "component key": _set("components.0.key", "longevity"),
}


@pytest.mark.parametrize("name", sorted(SEMANTIC_CHANGES))
def test_every_semantic_change_changes_the_id_and_shows_in_the_diff(name: str) -> None:
    changed = copy.deepcopy(HDI_LIKE)
    SEMANTIC_CHANGES[name](changed)
    a, b = parse_definition(HDI_LIKE), parse_definition(changed)
    assert version_id(a) != version_id(b)
    assert diff(a, b)


def test_diff_names_the_changed_fields() -> None:
    changed = copy.deepcopy(HDI_LIKE)
    changed["components"][0]["weight"] = 0.25
    changed["components"][1]["weight"] = 0.5
    changed["components"].append(
        {
            "key": "schooling",
            "indicator": "eys",
            "unit": "years",
            "weight": 0.25,
            "normalisation": {"kind": "goalposts", "lo": 0, "hi": 18},
        }
    )
    changed["components"][1]["normalisation"]["hi"] = 80000
    changed["aggregation"] = "weighted_arithmetic"
    changes = diff(parse_definition(HDI_LIKE), parse_definition(changed))
    assert [(c.path, c.before, c.after) for c in changes if c.path != "components.schooling"] == [
        ("aggregation", "weighted_geometric", "weighted_arithmetic"),
        ("components.health.weight", 0.5, 0.25),
        ("components.income.normalisation.hi", 75000.0, 80000.0),
    ]
    added = next(c for c in changes if c.path == "components.schooling")
    assert added.before is None
    assert added.after["indicator"] == "eys"
    assert diff(parse_definition(HDI_LIKE), parse_definition(HDI_LIKE)) == []
    removed = diff(parse_definition(changed), parse_definition(HDI_LIKE))
    assert any(c.path == "components.schooling" and c.after is None for c in removed)


def test_diff_sees_a_normalisation_kind_change_with_its_parameters() -> None:
    changed = copy.deepcopy(HDI_LIKE)
    changed["components"][0]["normalisation"] = {"kind": "target", "target": 80, "scale": 30}
    paths = [c.path for c in diff(parse_definition(HDI_LIKE), parse_definition(changed))]
    assert paths == [
        "components.health.normalisation.hi",
        "components.health.normalisation.kind",
        "components.health.normalisation.lo",
        "components.health.normalisation.scale",
        "components.health.normalisation.target",
    ]


def _component(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(HDI_LIKE["components"][0]), **changes}


INVALID = [
    (
        {"components": [_component(weight=0.6), HDI_LIKE["components"][1]]},
        "components: the weights must sum to 1, not 1.1",
    ),
    (
        {"components": [_component(weight=-0.5), _component(key="b", weight=1.5)]},
        "components[0].weight: must lie in [0, 1] in a weighted mean, not -0.5",
    ),
    (
        {"components": [_component(weight=1, normalisation={"lo": 85, "hi": 20})]},
        "components[0].normalisation: goalposts must be ordered, lo 85.0 < hi 20.0",
    ),
    ({"lo": 1, "hi": 0}, "the tradable bounds must be ordered, lo 1.0 < hi 0.0"),
    ({"unit": " "}, "unit: must not be empty"),
    ({"components": [_component(unit="")]}, "components[0].unit: must not be empty"),
    (
        {"components": [_component(weight=0.5), _component(weight=0.5)]},
        "components: component keys must be unique; repeated: health",
    ),
    ({"components": []}, "components: must be a non-empty list of components"),
    ({"aggregation": "median"}, "aggregation: must be one of"),
    ({"missing_policy": "guess"}, "missing_policy: must be one of"),
    ({"colour": "blue"}, "colour: is not a field of a metric definition"),
    ({"lo": float("nan")}, "lo: must be a finite number, not nan"),
    ({"hi": "1"}, "hi: must be a number, not '1'"),
    ({"hi": True}, "hi: must be a number, not True"),
    (
        {"components": [_component(weight=1, log=True, normalisation={"lo": 0, "hi": 85})]},
        "needs goalposts > 0",
    ),
    (
        {"components": [_component(weight=1, normalisation={"kind": "zscore"})]},
        "components[0].normalisation: z-scores are signed, so they cannot enter a geometric mean",
    ),
    (
        {"components": [_component(weight=1, normalisation={"kind": "minmax", "lo": 1})]},
        "components[0].normalisation: minmax takes no lo",
    ),
    (
        {"components": [_component(weight=1, normalisation={"kind": "target", "target": 70})]},
        "components[0].normalisation.scale: is required",
    ),
    (
        {"components": [_component(weight=1, direction=0)]},
        "components[0].direction: must be 1 (higher is better) or -1",
    ),
    (
        {"aggregation": "money_sum", "unit": "USD", "components": [_component(weight=1)]},
        "use normalisation none",
    ),
    (
        {
            "aggregation": "weighted_arithmetic",
            "components": [_component(weight=1, normalisation={"kind": "none"})],
        },
        "none is only for money_sum",
    ),
    (
        {
            "aggregation": "money_sum",
            "unit": "USD",
            "missing_policy": "drop_and_reweight",
            "components": [_component(weight=1, unit="USD", normalisation={"kind": "none"})],
        },
        "missing_policy: money_sum cannot drop_and_reweight",
    ),
    ({"components": [_component(weight=0)]}, "at least one component needs a weight > 0"),
    ({"components": [_component(key="9lives", weight=1)]}, "must start with a letter"),
    ({"name": "HDI\x00"}, "name: holds the control character U+0000"),
    # magnitudes: every number is finite and within its documented bound
    ({"lo": -1e308}, "lo: -1e+308 is beyond the bound ±1e+15; send a number in [-1e+15, 1e+15]"),
    ({"hi": 10**400}, "hi: must be a finite number"),
    (
        {"components": [_component(weight=1, normalisation={"lo": -1e308, "hi": 1e308})]},
        "components[0].normalisation.lo: -1e+308 is beyond the bound ±1e+15",
    ),
    (
        {"components": [_component(weight=1, normalisation={"lo": 0, "hi": 1e16})]},
        "components[0].normalisation.hi: 1e+16 is beyond the bound ±1e+15",
    ),
    (
        {
            "components": [
                _component(weight=1, normalisation={"kind": "target", "target": 2e15, "scale": 1})
            ]
        },
        "components[0].normalisation.target: 2000000000000000.0 is beyond the bound",
    ),
    (
        {
            "components": [
                _component(weight=1, normalisation={"kind": "target", "target": 1, "scale": 1e300})
            ]
        },
        "components[0].normalisation.scale: 1e+300 is beyond the bound",
    ),
    (
        {"components": [_component(weight=1e308), _component(key="b", weight=1e308)]},
        "components[0].weight: 1e+308 is beyond the bound ±1e+06",
    ),
    (
        {
            "components": [
                # two neighbouring floats: ln of both rounds to the same float
                _component(weight=1, log=True, normalisation={"lo": 5e14, "hi": 500000000000000.06})
            ]
        },
        "have the same logarithm",
    ),
]


@pytest.mark.parametrize(("changes", "message"), INVALID)
def test_invalid_definitions_are_refused_with_a_clear_message(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidMetricDefinition, match="the metric definition is invalid") as info:
        parse_definition(hdi_like(**changes))
    assert message in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidMetricDefinition) as info:
        parse_definition(hdi_like(lo=2, hi=1, unit="", aggregation="mode"))
    message = str(info.value)
    for fragment in ("bounds must be ordered", "unit: must not be empty", "aggregation: must be"):
        assert fragment in message
    with pytest.raises(InvalidMetricDefinition, match="JSON object"):
        parse_definition([1, 2])


def test_three_independent_faults_are_three_problems_with_their_paths() -> None:
    # a weight of 1e308 (once an overflow in the weight sum), goalposts the wrong way
    # round, and a direction of 2: each is reported, at its own field
    data = hdi_like()
    data["components"][0]["weight"] = 1e308
    data["components"][1]["normalisation"] = {"lo": 75000, "hi": 100}
    data["components"][1]["direction"] = 2
    with pytest.raises(InvalidMetricDefinition) as info:
        parse_definition(data)
    assert [(p.path, p.message) for p in info.value.problems] == [
        (
            ("components", 0, "weight"),
            "1e+308 is beyond the bound ±1e+06; send a number in [-1e+06, 1e+06]",
        ),
        (
            ("components", 1, "direction"),
            "must be 1 (higher is better) or -1 (lower is better)",
        ),
        (("components", 1, "normalisation"), "goalposts must be ordered, lo 75000.0 < hi 100.0"),
    ]


def test_a_further_check_is_listed_with_the_other_problems() -> None:
    def unknown_indicators(components: Any) -> list[DefinitionProblem]:
        return [
            DefinitionProblem(("components", i, "indicator"), f"{c.indicator!r} is unknown")
            for i, c in components
            if c.indicator == "gni"
        ]

    data = hdi_like(lo=1, hi=0)
    data["components"][1]["indicator"] = "gni"
    with pytest.raises(InvalidMetricDefinition) as info:
        parse_definition(data, check=unknown_indicators)
    assert [str(p) for p in info.value.problems] == [
        "the tradable bounds must be ordered, lo 1.0 < hi 0.0",
        "components[1].indicator: 'gni' is unknown",
    ]
    # and a definition otherwise fine is refused by the check alone
    fine = hdi_like()
    fine["components"][1]["indicator"] = "gni"
    with pytest.raises(InvalidMetricDefinition, match=r"components\[1\]\.indicator"):
        parse_definition(fine, check=unknown_indicators)


def test_the_largest_magnitudes_are_accepted() -> None:
    definition = parse_definition(
        hdi_like(
            lo=-MAX_MAGNITUDE,
            hi=MAX_MAGNITUDE,
            aggregation="weighted_arithmetic",
            components=[_component(weight=1, normalisation={"lo": -1e15, "hi": 1e15})],
        )
    )
    assert (definition.lo, definition.hi) == (-1e15, 1e15)
    money = parse_definition(
        hdi_like(
            aggregation="money_sum",
            unit="USD",
            components=[
                _component(unit="USD", weight=MAX_MONEY_WEIGHT, normalisation={"kind": "none"})
            ],
        )
    )
    assert money.components[0].weight == 1e6


def test_a_money_sum_takes_signed_raw_amounts_in_the_metric_unit() -> None:
    definition = parse_definition(
        {
            "name": "net benefit",
            "entity": "NL",
            "unit": "EUR",
            "lo": -1e9,
            "hi": 1e9,
            "aggregation": "money_sum",
            "components": [
                {
                    "key": "gain",
                    "indicator": "g",
                    "unit": "EUR",
                    "weight": 1,
                    "normalisation": {"kind": "none"},
                },
                {
                    "key": "cost",
                    "indicator": "c",
                    "unit": "EUR",
                    "weight": 1,
                    "direction": -1,
                    "normalisation": {"kind": "none"},
                },
            ],
        }
    )
    assert [c.weight for c in definition.components] == [1.0, 1.0]
    with pytest.raises(InvalidMetricDefinition, match="in the metric's unit 'EUR', not 'USD'"):
        parse_definition(
            {
                **to_dict(definition),
                "components": [{**to_dict(definition)["components"][0], "unit": "USD"}],
            }
        )


_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**400), 10**400),
        st.floats(),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_PLACES = [
    ("lo",),
    ("hi",),
    ("schema",),
    ("aggregation",),
    ("components",),
    ("components", 0),
    ("components", 0, "weight"),
    ("components", 0, "direction"),
    ("components", 0, "normalisation"),
    ("components", 0, "normalisation", "lo"),
    ("components", 1, "normalisation", "kind"),
    ("components", 1, "log"),
    ("components", 1, "key"),
    ("description",),
]


def _put(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Set ``data[path] = value`` where the path still leads somewhere, else leave it."""
    target = data
    try:
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    except (IndexError, KeyError, TypeError):
        pass


@given(st.lists(st.tuples(st.sampled_from(_PLACES), _JSON), max_size=4))
def test_any_json_is_a_definition_or_an_invalid_definition_never_a_crash(
    edits: list[tuple[tuple[str | int, ...], Any]],
) -> None:
    data = copy.deepcopy(HDI_LIKE)
    for path, value in edits:
        _put(data, path, value)
    problems: tuple[Any, ...] = ()
    try:
        definition = parse_definition(data)
    except InvalidMetricDefinition as exc:
        problems = exc.problems
        assert problems, "an invalid definition names at least one problem"
    else:
        assert all(math.isfinite(x) and abs(x) <= 1e15 for x in (definition.lo, definition.hi))
