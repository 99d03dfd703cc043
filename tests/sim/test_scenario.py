"""A scenario is a frozen, validated spec whose id is the SHA-256 of its canonical JSON.

Every example scenario loads (and runs); an unknown key, a wrong type or a value out of
range is refused with `ScenarioError` naming the field; equal content gives an equal id
whatever the key order, the file format or the defaults spelled out, and any change of
content (a seed) gives another id.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from db import canonical
from db.errors import InvalidInputError
from sim.backtest import run_one
from sim.grid import load_grid
from sim.scenario import MECHANISMS, Scenario, ScenarioError, from_dict, load, loads
from tests.sim.conftest import SCENARIOS, TINY

EXAMPLES = sorted(SCENARIOS.glob("*.toml"))


def _is_grid(path: Path) -> bool:
    return "grid" in tomllib.loads(path.read_text(encoding="utf-8"))


def _with(path: str, value: Any) -> dict[str, Any]:
    """`TINY` with one dotted field set (a table created if missing; a number indexes a
    list: ``branches.1.effect``)."""
    data = copy.deepcopy(TINY)
    node: Any = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value
    return data


def _refused(data: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        from_dict(data)
    return caught.value


# --- the example scenarios ------------------------------------------------------------------


def test_the_four_example_worlds_are_shipped() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"honest", "manipulator", "confounded", "thin_many"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_scenario_loads(path: Path) -> None:
    if _is_grid(path):
        specs = load_grid(path)
        assert len(specs) >= 2
        assert len({s.id for s in specs}) == len(specs)
        return
    scenario = load(path)
    assert isinstance(scenario, Scenario)
    assert scenario.name
    assert len(scenario.branches) >= 2
    assert scenario.agents >= 1


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not _is_grid(p)], ids=lambda p: p.stem)
def test_every_example_scenario_runs_on_four_runs(path: Path) -> None:
    data = load(path).to_dict()
    data["runs"] = 4
    data["market"]["rounds"] = 2
    manipulator = data["population"]["manipulator"]
    if manipulator is not None:
        manipulator["search_budgets"] = [0.0, 1.0]
        manipulator["search_runs"] = 2
    result = run_one(data)
    assert result["runs"] == 4
    assert set(result["mechanisms"]) == set(data["mechanisms"])
    for summary in result["mechanisms"].values():
        assert sum(summary["chosen_share"]) == pytest.approx(1.0)


def test_the_defaults_are_the_documented_ones() -> None:
    scenario = from_dict({"name": "x", "branches": TINY["branches"]})
    assert scenario.runs == 100
    assert scenario.seed == 0
    assert scenario.engine == "exact"
    assert scenario.block == 500
    assert scenario.mechanisms == MECHANISMS
    assert scenario.welfare.lo == 0.0
    assert scenario.welfare.hi == 100.0
    assert scenario.market.asset == "long_short"
    assert scenario.outcomes == 2
    assert scenario.population.informed.count == 20
    assert scenario.population.noise.count == 5
    assert scenario.population.manipulator is None
    assert scenario.agents == 25


def test_a_scenario_is_frozen() -> None:
    scenario = from_dict(TINY)
    with pytest.raises(ValidationError):
        scenario.runs = 5  # type: ignore[misc]


# --- refusals name the field ----------------------------------------------------------------


def test_an_unknown_key_is_refused_naming_the_dotted_field() -> None:
    err = _refused(_with("population.informed.cont", 3))
    assert err.field == "population.informed.cont"
    assert str(err) == "population.informed.cont: unknown field"
    assert isinstance(err, InvalidInputError)
    assert _refused(_with("colour", "blue")).field == "colour"
    assert _refused(_with("branches", [{"name": "a", "effect": 0.0, "cost": 1}] * 2)).field == (
        "branches.0.cost"
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("runs", "many"),
        ("runs", 2.5),
        ("seed", "lucky"),
        ("branches", "status quo, reform"),
        ("market.rounds", [8]),
        ("market.subsidy", "a lot"),
        ("rule.cap", "big"),
        ("population.informed", 8),
        ("population.noise.count", None),
        ("mechanisms", "futarchy"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_field(path: str, value: Any) -> None:
    assert _refused(_with(path, value)).field == path


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param("runs", True),
        pytest.param("runs", "100"),
        pytest.param("population.informed.count", False),
    ],
)
def test_a_boolean_or_a_string_is_not_a_count(path: str, value: Any) -> None:
    assert _refused(_with(path, value)).field == path


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("runs", 0, "greater than or equal to 1"),
        ("runs", 1_000_001, "less than or equal to 1000000"),
        ("seed", -1, "greater than or equal to 0"),
        ("block", 0, "greater than or equal to 1"),
        ("engine", "gpu", "'exact' or 'fast'"),
        ("welfare.noise", -1.0, "greater than or equal to 0"),
        ("welfare.prior_sd", 0.0, "greater than 0"),
        ("market.subsidy", 0.0, "greater than 0"),
        ("market.bins", 1, "greater than or equal to 2"),
        ("market.asset", "stock", "'long_short' or 'bins'"),
        ("market.rounds", 0, "greater than or equal to 1"),
        ("rule.epsilon", 0.0, "greater than 0"),
        ("rule.epsilon", 1.0, "less than 1"),
        ("rule.cap", float("nan"), "finite number"),
        ("rule.cap", -1.0, "cap must be positive"),
        ("rule.threshold", -0.5, "threshold must be between 0"),
        ("rule.interval_seconds", 0, "interval_seconds must be between 1"),
        ("population.informed.count", -1, "greater than or equal to 0"),
        ("population.informed.count", 10_001, "less than or equal to 10000"),
        ("population.informed.kelly", 1.5, "less than or equal to 1"),
        ("population.noise.max_fraction", 0.0, "greater than 0"),
        ("confounding.adoption", 101.0, "less than or equal to 100"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_the_field(
    path: str, value: Any, message: str
) -> None:
    err = _refused(_with(path, value))
    assert err.field == path
    assert message in str(err)


def test_an_infinite_effect_is_refused_naming_the_branch() -> None:
    err = _refused(_with("branches.2.effect", float("inf")))
    assert err.field == "branches.2.effect"
    assert "finite number" in str(err)


def test_fewer_than_two_branches_are_refused() -> None:
    err = _refused(_with("branches", [{"name": "status quo", "effect": 0.0}]))
    assert err.field == "branches"
    assert "at least 2 items" in str(err)


def test_tradable_bounds_must_be_in_order() -> None:
    err = _refused(_with("welfare", {"lo": 60.0, "hi": 40.0}))
    assert err.field == "welfare.hi"
    assert "lo (60.0) must be below hi (40.0)" in str(err)


def test_a_window_that_is_not_a_multiple_of_its_interval_is_refused() -> None:
    data = _with("rule", {"window_seconds": 5_000, "interval_seconds": 3_600})
    err = _refused(data)
    assert err.field == "rule.window_seconds"
    assert "5000" in str(err)
    assert "whole multiple of interval_seconds (3600)" in str(err)
    # 7,200 s is two intervals: accepted
    assert from_dict(_with("rule.window_seconds", 7_200)).rule.window_seconds == 7_200


@pytest.mark.parametrize(
    "manipulator",
    [
        {"target": 1, "budget": 500.0, "budget_multiple": 0.5},
        {"target": 1},
    ],
    ids=["both budgets", "neither budget"],
)
def test_a_manipulator_has_exactly_one_budget(manipulator: dict[str, Any]) -> None:
    err = _refused(_with("population.manipulator", manipulator))
    assert err.field == "population.manipulator.budget"
    assert "exactly one of budget and budget_multiple" in str(err)


def test_a_manipulator_budget_as_a_multiple_of_the_subsidy_is_accepted() -> None:
    scenario = from_dict(_with("population.manipulator", {"target": 2, "budget_multiple": 0.5}))
    assert scenario.population.manipulator is not None
    assert scenario.agents == 8 + 1 + 3 + 1


@pytest.mark.parametrize("target", [0, 3])
def test_a_manipulator_must_target_an_alternative(target: int) -> None:
    err = _refused(_with("population.manipulator", {"target": target, "budget": 10.0}))
    assert err.field == "population.manipulator.target"
    assert f"must name an alternative, 1 to 2, got {target}" in str(err)


def test_a_negative_search_budget_is_refused() -> None:
    manipulator = {"target": 1, "budget": 10.0, "search_budgets": [0.0, -1.0]}
    err = _refused(_with("population.manipulator", manipulator))
    assert err.field == "population.manipulator.search_budgets"
    assert "each must lie in [0, 1e6], got -1.0" in str(err)


def test_a_mechanism_listed_twice_is_refused() -> None:
    err = _refused(_with("mechanisms", ["futarchy", "poll", "futarchy"]))
    assert err.field == "mechanisms"
    assert "a mechanism is listed more than once" in str(err)


def test_an_unknown_mechanism_is_refused_with_the_known_ones() -> None:
    err = _refused(_with("mechanisms", ["futarchy", "lottery"]))
    assert "unknown mechanism 'lottery'" in str(err)
    assert "futarchy_randomised" in str(err)


def test_two_branches_of_one_name_are_refused() -> None:
    branches = [{"name": "status quo", "effect": 0.0}, {"name": "status quo", "effect": 1.0}]
    err = _refused(_with("branches", branches))
    assert "branch names must be distinct" in str(err)


def test_a_population_without_agents_is_refused() -> None:
    data = _with("population", {"informed": {"count": 0}, "noise": {"count": 0}})
    assert "the population has no agents" in str(_refused(data))


def test_a_scenario_must_be_an_object() -> None:
    err = _refused([TINY])
    assert "a scenario must be an object, got list" in str(err)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("population.manipulator", {"target": 0, "budget": 10.0}, "population.manipulator.target"),
        ("mechanisms", ["poll", "poll"], "mechanisms"),
        ("branches", [{"name": "a", "effect": 0.0}, {"name": "a", "effect": 1.0}], "branches"),
    ],
    ids=["target", "mechanisms", "branches"],
)
def test_a_cross_field_refusal_names_its_field(path: str, value: Any, field: str) -> None:
    assert _refused(_with(path, value)).field == field


def test_a_subsidy_too_small_for_any_liquidity_is_refused_at_load() -> None:
    err = _refused(_with("market.subsidy", 1e-5))
    assert err.field == "market.subsidy"


# --- reading text and files -----------------------------------------------------------------


def test_text_that_is_not_toml_or_json_is_refused() -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        loads('name = "x"\nruns = = 3\n', "toml")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        loads('{"name": "x", "runs": 3', "json")


def test_a_file_with_another_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "honest.yaml"
    path.write_text(json.dumps(TINY), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"honest\.yaml: a scenario is a \.toml or \.json"):
        load(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load(tmp_path / "absent.toml")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match="cannot read"):
        load(path)


# --- the id ---------------------------------------------------------------------------------


def test_the_id_is_the_digest_of_the_canonical_json_of_all_but_the_block_size() -> None:
    scenario = from_dict(TINY)
    assert re.fullmatch(r"[0-9a-f]{64}", scenario.id)
    identity = scenario.to_dict()
    del identity["block"]
    assert scenario.identity() == identity
    assert scenario.id == canonical.digest(identity)
    # the block size groups runs for speed and changes no number: not part of the id
    assert scenario.with_changes(block=7).id == scenario.id


def test_the_id_of_a_minimal_scenario_is_pinned() -> None:
    # Every default goes into the id, so changing one silently orphans every cached block;
    # this pin makes such a change deliberate.
    scenario = from_dict(
        {"name": "x", "branches": [{"name": "sq", "effect": 0.0}, {"name": "a", "effect": 1.0}]}
    )
    assert scenario.id == "5c3821cd1220903204a0e065c65ac656c415652752f0ae5ec4e7b425e46d9547"


def test_equal_content_gives_an_equal_id() -> None:
    assert from_dict(TINY).id == from_dict(copy.deepcopy(TINY)).id


def test_key_order_does_not_change_the_id() -> None:
    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    reordered = reverse(TINY)
    assert list(reordered) != list(TINY)
    assert from_dict(reordered).id == from_dict(TINY).id


def test_spelling_out_a_default_does_not_change_the_id() -> None:
    explicit = _with("engine", "exact")
    explicit["block"] = 500
    explicit["market"]["asset"] = "long_short"
    explicit["population"]["manipulator"] = None
    explicit["confounding"] = {"strength": 0.0}
    assert from_dict(explicit).id == from_dict(TINY).id
    # and so does writing a whole number as an integer in a float field
    assert from_dict(_with("market.subsidy", 100)).id == from_dict(TINY).id


def test_the_full_form_reads_back_to_the_same_id() -> None:
    scenario = from_dict(TINY)
    assert from_dict(scenario.to_dict()).id == scenario.id
    assert from_dict(scenario.to_dict()) == scenario


@pytest.mark.parametrize(
    ("path", "value"),
    [("seed", 20260102), ("runs", 21), ("branches.1.effect", 4.5), ("rule.threshold", 0.25)],
)
def test_a_change_of_content_gives_another_id(path: str, value: Any) -> None:
    assert from_dict(_with(path, value)).id != from_dict(TINY).id


def test_with_changes_validates_again_and_gives_a_new_id() -> None:
    scenario = from_dict(TINY)
    other = scenario.with_changes(seed=7)
    assert other.seed == 7
    assert other.id != scenario.id
    with pytest.raises(ScenarioError) as caught:
        scenario.with_changes(runs=0)
    assert caught.value.field == "runs"


def test_the_json_and_the_toml_of_one_scenario_give_one_id(tmp_path: Path) -> None:
    honest = SCENARIOS / "honest.toml"
    data = tomllib.loads(honest.read_text(encoding="utf-8"))
    as_json = tmp_path / "honest.json"
    as_json.write_text(json.dumps(data, indent=2), encoding="utf-8")
    from_toml = load(honest)
    assert load(as_json).id == from_toml.id
    assert loads(json.dumps(data), "json").id == from_toml.id
    assert loads(honest.read_text(encoding="utf-8"), "toml").id == from_toml.id
