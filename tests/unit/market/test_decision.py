"""The decision rule: capped averages, the greedy choice, exploration and the public draw.

Times are seconds, welfare values are welfare units. ``T`` is the decision time; the
examples use a 24-hour window of 1-hour intervals unless they say otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from db.errors import InvalidInputError
from market.decision import (
    DecisionRule,
    InvalidDecisionRule,
    TwapState,
    TwapStates,
    advance,
    advance_many,
    average,
    average_many,
    best_alternative,
    commitment,
    decide,
    decide_many,
    decision_distribution,
    draw,
    draw_many,
    greedy_choice,
    initial_state,
    initial_states,
    inverse_cdf,
    twap_from_path,
    uniform,
    uniform_many,
)
from market.errors import InvalidMarketInput
from tests.strategies import decision_rules, path_values, welfare_paths

HOUR = 3600
DAY = 24 * HOUR
T = 1_700_000_000.0
DAILY = DecisionRule(window_seconds=DAY, interval_seconds=HOUR, cap=0.01)
SEED = bytes(32)


def run_path(
    rule: DecisionRule,
    opens_at: float,
    decides_at: float,
    initial: float,
    times: list[float],
    values: list[float],
) -> float:
    """Advance the state trade by trade, as the service does, and read the average."""
    state = initial_state(rule, opens_at, decides_at, initial)
    for t, v in zip(times, values, strict=True):
        state = advance(state, rule, t, v)
    return average(state, rule)


def seeds(count: int, label: bytes = b"test") -> list[bytes]:
    return [hashlib.sha256(label + i.to_bytes(4, "big")).digest() for i in range(count)]


# --- the rule -----------------------------------------------------------------------------


def test_a_daily_rule_has_24_intervals_and_a_stable_canonical_form() -> None:
    assert DAILY.intervals == 24
    assert DAILY.canonical_json() == (
        '{"cap":0.01,"epsilon":0.0,"exploration_mode":"none","interval_seconds":3600,'
        '"schema":"decision-rule/1","threshold":0.0,"window_seconds":86400}'
    )
    assert DAILY.content_hash() == hashlib.sha256(DAILY.canonical_json().encode()).hexdigest()
    assert DecisionRule.from_dict(json.loads(DAILY.canonical_json())) == DAILY


def test_equal_rules_written_differently_hash_the_same() -> None:
    assert DecisionRule(DAY, HOUR, 1).content_hash() == DecisionRule(DAY, HOUR, 1.0).content_hash()
    assert DecisionRule(DAY, HOUR, 1.0, -0.0).to_dict()["threshold"] == 0.0
    assert DecisionRule(DAY, HOUR, 1.0, 0.5).content_hash() != DAILY.content_hash()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"window_seconds": 0}, "window_seconds"),
        ({"window_seconds": -86400}, "window_seconds"),
        ({"window_seconds": 86400.0}, "window_seconds"),
        ({"window_seconds": True}, "window_seconds"),
        ({"window_seconds": 10**12}, "window_seconds"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"interval_seconds": 2 * DAY}, "interval_seconds"),
        ({"interval_seconds": 7 * HOUR}, "window_seconds"),  # 24 h is not a multiple of 7 h
        ({"cap": 0.0}, "cap"),
        ({"cap": -0.01}, "cap"),
        ({"cap": math.inf}, "cap"),
        ({"cap": math.nan}, "cap"),
        ({"cap": "0.01"}, "cap"),
        ({"cap": 1e308}, "cap"),
        ({"threshold": -0.001}, "threshold"),
        ({"threshold": math.inf}, "threshold"),
        ({"epsilon": -0.1, "exploration_mode": "ipw"}, "epsilon"),
        ({"epsilon": 1.0, "exploration_mode": "ipw"}, "epsilon"),
        ({"epsilon": 0.1}, "exploration_mode"),  # mode "none" with ε > 0
        ({"exploration_mode": "ipw"}, "exploration_mode"),  # ε = 0 with a mode
        ({"epsilon": 0.1, "exploration_mode": "thompson"}, "exploration_mode"),
    ],
)
def test_a_rule_out_of_range_is_refused_naming_the_field(
    fields: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {"window_seconds": DAY, "interval_seconds": HOUR, "cap": 0.01}
    values.update(fields)
    with pytest.raises(InvalidDecisionRule) as caught:
        DecisionRule(**values)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert field in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)  # a 422 at the API


def test_a_stored_rule_with_an_unknown_or_missing_field_is_refused() -> None:
    with pytest.raises(InvalidDecisionRule, match="unknown decision rule field 'caps'"):
        DecisionRule.from_dict({**DAILY.to_dict(), "caps": 0.01})
    with pytest.raises(InvalidDecisionRule, match="needs cap"):
        DecisionRule.from_dict({"window_seconds": DAY, "interval_seconds": HOUR})
    with pytest.raises(InvalidDecisionRule, match="schema"):
        DecisionRule.from_dict({**DAILY.to_dict(), "schema": "decision-rule/2"})


# --- the capped average: worked examples --------------------------------------------------


def test_a_jump_from_050_to_090_an_hour_before_moves_the_average_by_001_over_24() -> None:
    state = initial_state(DAILY, opens_at=T - 2 * DAY, decides_at=T, initial=0.50)
    state = advance(state, DAILY, T - HOUR, 0.90)
    # 23 hours observed at 0.50, the last hour at 0.50 + 0.01 (the cap), each 1/24 of the window
    assert average(state, DAILY) == pytest.approx(0.50 + 0.01 / 24, abs=1e-15)
    assert twap_from_path([T - HOUR], [0.90], DAILY, T - 2 * DAY, T, 0.50) == pytest.approx(
        0.50 + 0.01 / 24, abs=1e-15
    )


def test_the_same_jump_two_hours_before_counts_two_steps_of_the_ramp() -> None:
    state = advance(initial_state(DAILY, T - 2 * DAY, T, 0.50), DAILY, T - 2 * HOUR, 0.90)
    # the last two hours are observed at 0.51 and 0.52: (22·0.50 + 0.51 + 0.52) / 24
    assert average(state, DAILY) == pytest.approx(0.50 + 0.03 / 24, abs=1e-15)


def test_each_hour_is_observed_by_the_value_in_force_when_it_closes() -> None:
    # a jump half-way through the last hour that lasts to the decision: one step of the cap
    jumped = advance(initial_state(DAILY, T - 2 * DAY, T, 0.50), DAILY, T - HOUR / 2, 0.90)
    assert average(jumped, DAILY) == pytest.approx(0.50 + 0.01 / 24, abs=1e-15)
    # the same jump undone a second before the decision is never observed
    assert average(advance(jumped, DAILY, T - 1.0, 0.50), DAILY) == 0.50


def test_a_jump_a_day_before_ramps_up_by_001_an_hour_and_then_stays() -> None:
    # 0.50 → 0.74 over the 24 hours: Σ_{r=1..24} (0.50 + 0.01·r) / 24 = 0.50 + 0.01·12.5
    state = advance(initial_state(DAILY, T - 2 * DAY, T, 0.50), DAILY, T - DAY, 0.90)
    assert average(state, DAILY) == pytest.approx(0.625, abs=1e-14)
    # 40 hours before: the observation reaches 0.90 after 40 steps, just as the window ends
    state = advance(initial_state(DAILY, T - 3 * DAY, T, 0.50), DAILY, T - 40 * HOUR, 0.90)
    assert average(state, DAILY) == pytest.approx(sum(0.50 + 0.01 * r for r in range(17, 41)) / 24)


def test_a_market_opening_inside_the_window_counts_its_opening_value_from_the_start() -> None:
    # opens 6 h before the decision at 0.50 and trades at 0.60 straight away
    state = advance(initial_state(DAILY, T - 6 * HOUR, T, 0.50), DAILY, T - 6 * HOUR, 0.60)
    # 18 h at 0.50 (before the opening), then 0.51 … 0.56
    expected = (18 * 0.50 + sum(0.50 + 0.01 * r for r in range(1, 7))) / 24
    assert average(state, DAILY) == pytest.approx(expected, abs=1e-15)


def test_trades_after_the_decision_change_nothing() -> None:
    state = advance(initial_state(DAILY, T - 2 * DAY, T, 0.50), DAILY, T - 2 * HOUR, 0.90)
    before = average(state, DAILY)
    later = advance(advance(state, DAILY, T, -1e6), DAILY, T + 5 * DAY, 1e6)
    assert average(later, DAILY) == pytest.approx(before, abs=1e-15)


def test_a_quiet_market_cranked_after_ten_years_costs_one_step() -> None:
    # a 1-second interval: ten years are 3.2e8 boundaries, which no loop could cross in time
    rule = DecisionRule(window_seconds=DAY, interval_seconds=1, cap=1e-6)
    decides = T + 10 * 366 * DAY
    state = advance(initial_state(rule, T, decides, 0.50), rule, T, 0.90)
    state = advance(state, rule, decides - HOUR, 0.90)
    assert state.observation == 0.90  # 400 000 seconds of 1e-6 steps reached it long ago
    assert state.cum_weighted == pytest.approx(0.90 * (DAY - HOUR), rel=1e-14)
    assert average(state, rule) == pytest.approx(0.90, rel=1e-14)


def test_time_going_backwards_and_non_finite_values_are_refused() -> None:
    state = initial_state(DAILY, T - DAY, T, 0.5)
    with pytest.raises(InvalidMarketInput, match="backwards"):
        advance(state, DAILY, T - 2 * DAY, 0.5)
    with pytest.raises(InvalidMarketInput, match="finite"):
        advance(state, DAILY, T, math.nan)
    with pytest.raises(InvalidMarketInput, match="finite"):
        advance(state, DAILY, T, 1e308)
    with pytest.raises(InvalidMarketInput, match="before opens_at"):
        initial_state(DAILY, T + 1, T, 0.5)
    with pytest.raises(InvalidMarketInput, match="backwards"):
        advance_many(TwapStates.from_states([state]), DAILY, [T - 2 * DAY], [0.5])


# --- the capped average: properties -------------------------------------------------------


@given(
    rule=decision_rules(),
    settled=path_values,
    spike=path_values,
    start=st.floats(0.0, 1.0, exclude_max=True),
    revert=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
@settings(max_examples=60)
def test_one_spike_of_any_size_in_the_last_interval_moves_the_average_by_at_most_cap_I_over_W(
    rule: DecisionRule, settled: float, spike: float, start: float, revert: float | None
) -> None:
    interval = rule.interval_seconds
    opens = T - rule.window_seconds - 5 * interval
    quiet = run_path(rule, opens, T, settled, [], [])
    t1 = T - interval + start * interval
    times, values = [t1], [spike]
    if revert is not None:
        times.append(t1 + revert * (T - t1))
        values.append(settled)
    moved = abs(run_path(rule, opens, T, settled, times, values) - quiet)
    rounding = 1e-13 * max(1.0, abs(settled))  # a few ulps of the values averaged
    assert moved <= rule.cap * interval / rule.window_seconds * (1 + 1e-9) + rounding


@given(
    rule=decision_rules(),
    settled=path_values,
    spike=path_values,
    h=st.integers(1, 4),
    start=st.floats(0.0, 1.0, exclude_max=True),
)
@settings(max_examples=40)
def test_a_spike_over_the_last_h_intervals_moves_the_average_by_at_most_cap_h_h1_over_2(
    rule: DecisionRule, settled: float, spike: float, h: int, start: float
) -> None:
    # the observations of the last h intervals move by at most c, 2c, …, hc
    assume(h <= rule.intervals)
    interval = rule.interval_seconds
    quiet = run_path(rule, T - 2 * rule.window_seconds, T, settled, [], [])
    t1 = T - h * interval + start * interval
    spiked = run_path(rule, T - 2 * rule.window_seconds, T, settled, [t1], [spike])
    bound = rule.cap * h * (h + 1) / 2 * interval / rule.window_seconds
    assert abs(spiked - quiet) <= bound * (1 + 1e-9) + 1e-13 * max(1.0, abs(settled))


@given(rule=decision_rules(), settled=path_values, spike=path_values, data=st.data())
@settings(max_examples=40)
def test_a_spike_that_reverts_between_two_boundaries_is_never_observed(
    rule: DecisionRule, settled: float, spike: float, data: st.DataObject
) -> None:
    interval = rule.interval_seconds
    j = data.draw(st.integers(1, rule.intervals))
    lo, hi = sorted(data.draw(st.lists(st.floats(0.0, 0.999), min_size=2, max_size=2)))
    times = [T - j * interval + lo * interval, T - j * interval + hi * interval]
    opens = T - 2 * rule.window_seconds
    # the same trades, had they moved nothing, give exactly the same average
    spiked = run_path(rule, opens, T, settled, times, [spike, settled])
    flat = run_path(rule, opens, T, settled, times, [settled, settled])
    assert spiked == flat


@given(rule=decision_rules(), data=st.data())
@settings(max_examples=100)
def test_advancing_trade_by_trade_gives_the_average_recomputed_from_the_whole_path(
    rule: DecisionRule, data: st.DataObject
) -> None:
    opens, decides, initial, times, values = data.draw(welfare_paths(rule))
    incremental = run_path(rule, opens, decides, initial, times, values)
    reference = twap_from_path(times, values, rule, opens, decides, initial)
    scale = max([1.0, abs(initial), *map(abs, values)])
    assert incremental == pytest.approx(reference, rel=1e-9, abs=1e-9 * scale)
    low, high = min([initial, *values]), max([initial, *values])
    assert low - 1e-9 * scale <= incremental <= high + 1e-9 * scale


@given(rule=decision_rules(max_intervals=12), data=st.data())
@settings(max_examples=40)
def test_many_states_advance_exactly_as_each_one_alone(
    rule: DecisionRule, data: st.DataObject
) -> None:
    rows = data.draw(st.integers(1, 6))
    steps = data.draw(st.integers(0, 8))
    decides = data.draw(st.sampled_from([T, T + 0.25, 0.0]))
    interval = rule.interval_seconds
    opens = [decides - data.draw(st.integers(0, 2 * rule.window_seconds)) for _ in range(rows)]
    initial = [data.draw(path_values) for _ in range(rows)]
    gaps = st.one_of(st.just(0.0), st.sampled_from([interval, 3 * interval]), st.floats(0, 1e5))
    singles = [initial_state(rule, o, decides, v) for o, v in zip(opens, initial, strict=True)]
    batch = initial_states(rule, opens, decides, initial)
    assert [batch.state(i) for i in range(rows)] == singles
    now = np.array(opens)
    for _ in range(steps):
        now = now + np.array([data.draw(gaps) for _ in range(rows)])
        live = [data.draw(path_values) for _ in range(rows)]
        singles = [
            advance(s, rule, float(t), v) for s, t, v in zip(singles, now, live, strict=True)
        ]
        batch = advance_many(batch, rule, now, live)
        assert [batch.state(i) for i in range(rows)] == singles  # bit for bit
    assert average_many(batch, rule).tolist() == [average(s, rule) for s in singles]


def test_branches_by_runs_advance_as_a_two_dimensional_batch() -> None:
    states = TwapStates.from_states([initial_state(DAILY, T - 2 * DAY, T, 0.5)] * 6)
    grid = TwapStates(*(np.reshape(getattr(states, f), (2, 3)) for f in TwapState.__annotations__))
    grid = advance_many(grid, DAILY, T - HOUR, np.array([[0.9, 0.5, 0.1], [0.5, 0.5, 0.5]]))
    averages = average_many(grid, DAILY)
    assert averages.shape == (2, 3)
    assert averages.ravel().tolist() == pytest.approx(
        [0.5 + 0.01 / 24, 0.5, 0.5 - 0.01 / 24, 0.5, 0.5, 0.5], abs=1e-15
    )


# --- the greedy choice --------------------------------------------------------------------


def test_an_alternative_is_adopted_only_if_it_beats_the_status_quo_by_more_than_delta() -> None:
    # status quo first: 0.50; alternatives 0.62 and 0.70; δ = 0.1
    assert int(greedy_choice([0.50, 0.62, 0.70], 0, 0.1)) == 2  # 0.20 > 0.1
    assert int(greedy_choice([0.50, 0.62, 0.55], 0, 0.2)) == 0  # 0.12 ≤ 0.2
    assert int(greedy_choice([0.50, 0.75], 0, 0.25)) == 0  # a margin of exactly δ: status quo
    assert int(greedy_choice([0.50, 0.50], 0, 0.0)) == 0  # a tie: status quo
    assert int(greedy_choice([0.70, 0.90, 0.60], 2, 0.1)) == 1  # status quo last: 0.30 > 0.1


def test_ties_among_alternatives_go_to_the_lowest_index() -> None:
    assert int(greedy_choice([0.50, 0.70, 0.70, 0.60], 0, 0.1)) == 1
    assert int(greedy_choice([0.70, 0.50, 0.70], 1, 0.1)) == 0  # the status quo in the middle
    best, margin = best_alternative([0.70, 0.50, 0.70], 1)
    assert int(best) == 0
    assert float(margin) == pytest.approx(0.2)


@given(
    sq=st.floats(-10, 10),
    delta=st.floats(0.0, 2.0),
    below=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=6),
    position=st.integers(0, 6),
)
def test_an_alternative_that_never_beats_the_status_quo_by_delta_is_never_adopted(
    sq: float, delta: float, below: list[float], position: int
) -> None:
    alternatives = [sq + delta - x for x in below]
    averaged = [*alternatives]
    position = min(position, len(alternatives))
    averaged.insert(position, sq)
    assume(all(a - sq <= delta for a in alternatives))  # margins as computed in float64
    assert int(greedy_choice(averaged, position, delta)) == position


@given(
    rows=st.lists(st.lists(st.floats(-5, 5), min_size=3, max_size=3), min_size=1, max_size=8),
    sq=st.integers(0, 2),
    delta=st.floats(0.0, 1.0),
)
def test_greedy_choice_over_many_rows_is_the_choice_of_each_row(
    rows: list[list[float]], sq: int, delta: float
) -> None:
    many = greedy_choice(np.array(rows), sq, delta)
    assert many.tolist() == [int(greedy_choice(row, sq, delta)) for row in rows]


def test_bad_averages_and_status_quo_indices_are_refused() -> None:
    with pytest.raises(InvalidMarketInput, match="status quo index"):
        greedy_choice([0.5, 0.6], 2, 0.0)
    with pytest.raises(InvalidMarketInput, match="finite"):
        greedy_choice([0.5, math.nan], 0, 0.0)
    with pytest.raises(InvalidMarketInput, match="at least two branches"):
        greedy_choice([0.5], 0, 0.0)
    with pytest.raises(InvalidMarketInput, match="threshold"):
        greedy_choice([0.5, 0.6], 0, -0.1)


# --- the distribution and the draw --------------------------------------------------------


def test_with_epsilon_01_and_three_branches_each_branch_gets_at_least_one_thirtieth() -> None:
    d = decision_distribution(np.int64(1), 3, 0.1)
    assert d.tolist() == pytest.approx([0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3], abs=1e-15)
    assert decision_distribution(np.int64(2), 3, 0.0).tolist() == [0.0, 0.0, 1.0]


@given(
    n=st.integers(2, 12),
    epsilon=st.one_of(st.just(0.0), st.floats(0.0, 1.0, exclude_max=True)),
    data=st.data(),
)
def test_d_sums_to_one_and_every_branch_gets_at_least_epsilon_over_k_plus_1(
    n: int, epsilon: float, data: st.DataObject
) -> None:
    greedy = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5)))
    d = decision_distribution(greedy, n, epsilon)
    assert d.shape == (len(greedy), n)
    assert np.abs(d.sum(axis=-1) - 1.0).max() <= 1e-12
    assert (d >= epsilon / n).all()
    assert (d[np.arange(len(greedy)), greedy] >= 1.0 - epsilon).all()


def test_the_draw_is_the_documented_hash_and_anyone_can_recompute_it() -> None:
    digest = hashlib.sha256(SEED + (1).to_bytes(8, "big")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    assert uniform(SEED, 1) == u == 0.03466811194079138
    assert commitment(SEED) == hashlib.sha256(SEED).hexdigest()
    assert commitment(SEED) == "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
    # d = (0.2, 0.5, 0.3): u = 0.0347 < 0.2, so branch 0
    assert draw(SEED, 1, [0.2, 0.5, 0.3]) == 0
    assert draw(SEED, 1, [0.0, 0.5, 0.5]) == 1


@given(seed=st.binary(min_size=16, max_size=64), proposal_id=st.integers(0, 2**64 - 1))
@settings(max_examples=50)
def test_the_draw_is_a_pure_function_of_the_seed_and_the_proposal_id(
    seed: bytes, proposal_id: int
) -> None:
    d = [0.25, 0.25, 0.5]
    assert draw(seed, proposal_id, d) == draw(bytes(seed), proposal_id, list(d))
    assert 0.0 <= uniform(seed, proposal_id) <= 1.0


def test_over_20000_seeds_the_draw_comes_up_with_the_frequencies_of_d() -> None:
    d = np.array([0.1, 0.6, 0.3])
    many = seeds(20_000)
    drawn = draw_many(many, [7] * len(many), d)
    assert drawn[:200].tolist() == [draw(s, 7, d) for s in many[:200]]
    counts = np.bincount(drawn, minlength=3)
    expected = d * len(many)
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < 13.8  # 2 degrees of freedom, p = 0.001


def test_the_last_bucket_is_guarded_against_u_of_one_and_a_short_cumsum() -> None:
    assert int(inverse_cdf(1.0, [0.2, 0.8, 0.0])) == 1  # the last branch with d > 0
    tenths = [0.1] * 10  # the float cumsum ends at 0.9999999999999999
    assert int(inverse_cdf(0.99999999999999995, tenths)) == 9
    assert inverse_cdf(np.linspace(0, 1, 11), [0.0, 1.0, 0.0]).tolist() == [1] * 11


def test_weak_seeds_and_bad_ids_are_refused() -> None:
    with pytest.raises(InvalidMarketInput, match="16 to 1024 bytes"):
        commitment(b"1234")
    with pytest.raises(InvalidMarketInput, match="bytes"):
        uniform("a string seed of some length", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidMarketInput, match="proposal id"):
        uniform(SEED, 2**64)
    with pytest.raises(InvalidMarketInput, match="proposal id"):
        uniform(SEED, -1)
    with pytest.raises(InvalidMarketInput, match="sum to 1"):
        draw(SEED, 1, [0.5, 0.6])


# --- the decision -------------------------------------------------------------------------


def seed_where(predicate: Callable[[float], bool], label: bytes = b"find") -> bytes:
    """The first of some fixed seeds whose uniform number for proposal 42 passes."""
    return next(s for s in seeds(10_000, label) if predicate(uniform(s, 42)))


def test_without_exploration_the_greedy_choice_is_executed_and_the_markets_settle() -> None:
    rule = DecisionRule(DAY, HOUR, 0.01, threshold=0.05)
    decision = decide(rule, [0.50, 0.62, 0.58], 0, None, 42)
    assert decision.best_alternative == 1
    assert decision.margin == pytest.approx(0.12)
    assert (decision.greedy, decision.executed) == (1, 1)
    assert decision.distribution == (0.0, 1.0, 0.0)
    assert (decision.u, decision.explored, decision.settles) == (None, False, True)
    assert decision.probability == 1.0
    assert decision.to_dict()["executed"] == 1


def test_ipw_executes_the_branch_drawn_from_d_and_reports_d_of_it() -> None:
    rule = DecisionRule(DAY, HOUR, 0.01, 0.05, epsilon=0.3, exploration_mode="ipw")
    # greedy is branch 1, so d = (0.1, 0.8, 0.1): u < 0.1 → 0, u < 0.9 → 1, else 2
    for u_range, branch in [((0.0, 0.1), 0), ((0.1, 0.9), 1), ((0.9, 1.0), 2)]:
        low, high = u_range
        seed = seed_where(lambda u: low < u < high)  # noqa: B023 - used at once, in this pass
        decision = decide(rule, [0.50, 0.62, 0.58], 0, seed, 42)
        assert decision.greedy == 1
        assert decision.executed == branch
        assert decision.settles
        assert decision.explored == (branch != 1)
        assert decision.probability == pytest.approx([0.1, 0.8, 0.1][branch])


def test_randomised_only_settles_only_when_the_coin_says_explore() -> None:
    rule = DecisionRule(DAY, HOUR, 0.01, 0.05, epsilon=0.3, exploration_mode="randomised_only")
    tails = seed_where(lambda u: u >= 0.3)
    decision = decide(rule, [0.50, 0.62, 0.58], 0, tails, 42)
    assert (decision.executed, decision.explored, decision.settles) == (1, False, False)
    # heads with u in [0.2, 0.3): u / ε in [2/3, 1), so ⌊(u / ε) · 3⌋ = 2
    heads = seed_where(lambda u: 0.2 <= u < 0.3)
    decision = decide(rule, [0.50, 0.62, 0.58], 0, heads, 42)
    assert math.floor(uniform(heads, 42) / 0.3 * 3) == 2
    assert (decision.executed, decision.explored, decision.settles) == (2, True, True)
    # heads can pick the greedy branch too: it still settles, prices are then causal
    heads_on_greedy = seed_where(lambda u: 0.1 <= u < 0.2)
    decision = decide(rule, [0.50, 0.62, 0.58], 0, heads_on_greedy, 42)
    assert (decision.executed, decision.explored, decision.settles) == (1, True, True)


def test_randomised_only_explores_with_frequency_epsilon_uniformly_over_branches() -> None:
    rule = DecisionRule(DAY, HOUR, 0.01, 0.0, epsilon=0.2, exploration_mode="randomised_only")
    u = uniform_many(seeds(20_000, b"coin"), [5] * 20_000)
    batch = decide_many(rule, np.tile([0.5, 0.7, 0.6, 0.4], (20_000, 1)), 0, u)
    assert batch.explored.mean() == pytest.approx(0.2, abs=0.01)
    assert (batch.settles == batch.explored).all()
    assert (batch.executed[~batch.explored] == 1).all()
    counts = np.bincount(batch.executed[batch.explored], minlength=4)
    expected = batch.explored.sum() / 4
    assert float(((counts - expected) ** 2 / expected).sum()) < 16.3  # 3 d.o.f., p = 0.001
    # and overall the executed branch is distributed as d = (0.05, 0.85, 0.05, 0.05)
    overall = np.bincount(batch.executed, minlength=4) / 20_000
    assert overall.tolist() == pytest.approx([0.05, 0.85, 0.05, 0.05], abs=0.01)


@given(
    rule=decision_rules(),
    rows=st.lists(st.lists(st.floats(-2, 2), min_size=4, max_size=4), min_size=1, max_size=6),
    sq=st.integers(0, 3),
    proposal_id=st.integers(0, 2**64 - 1),
)
@settings(max_examples=60)
def test_deciding_many_proposals_decides_each_as_alone(
    rule: DecisionRule, rows: list[list[float]], sq: int, proposal_id: int
) -> None:
    row_seeds = seeds(len(rows), b"rows")
    u = uniform_many(row_seeds, [proposal_id] * len(rows))
    batch = decide_many(rule, np.array(rows), sq, u)
    for i, (row, seed) in enumerate(zip(rows, row_seeds, strict=True)):
        one = decide(rule, row, sq, seed, proposal_id)
        assert one.greedy == int(greedy_choice(row, sq, rule.threshold))
        assert (one.executed, one.explored, one.settles) == (
            int(batch.executed[i]),
            bool(batch.explored[i]),
            bool(batch.settles[i]),
        )
        assert one.probability == float(batch.probability[i]) == one.distribution[one.executed]
        if rule.exploration_mode == "ipw":
            assert one.executed == draw(seed, proposal_id, one.distribution)


def test_exploration_without_a_seed_is_refused() -> None:
    rule = DecisionRule(DAY, HOUR, 0.01, epsilon=0.1, exploration_mode="ipw")
    with pytest.raises(InvalidMarketInput, match="seed"):
        decide(rule, [0.5, 0.6], 0, None, 1)
    with pytest.raises(InvalidMarketInput, match="uniform number"):
        decide_many(rule, [[0.5, 0.6]], 0, None)
