"""The bounded summaries of a price history (`reports.series`), pure, with the numbers
written out; the observation range against a brute-force walk of every boundary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.assets import BinnedAsset, ScalarAsset
from market.decision import DecisionRule, average, initial_state, twap_from_path
from reports.read_model import welfare_reader
from reports.series import (
    MAX_PATH_POINTS,
    LastInterval,
    ObservationRange,
    PathSampler,
    VolumeBuckets,
)

HOUR = 3600.0


def arrays(*values: list[float]) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype=np.float64) for v in values)


# --- the price path ------------------------------------------------------------------------


def test_a_hundred_thousand_points_become_at_most_500_and_every_spike_survives() -> None:
    rng = np.random.default_rng(7)
    t = np.sort(rng.uniform(0.0, 100_000.0, size=100_000))
    values = 50.0 + np.cumsum(rng.normal(0.0, 0.1, size=t.size))
    values[31_337] = 99.5  # a spike up
    values[77_000] = 0.5  # and one down
    sampler = PathSampler(0.0, 100_000.0, opening=50.0)
    for start in range(0, t.size, 1_000):  # fed a page at a time
        sampler.add(t[start : start + 1_000], values[start : start + 1_000])
    points = sampler.points(until=100_000.0)
    assert MAX_PATH_POINTS == 500
    assert len(points) <= 500
    assert points[0] == (0.0, 50.0)
    assert points[-1] == (100_000.0, values[-1])
    kept = [v for _, v in points]
    assert max(kept) == 99.5
    assert min(kept) == 0.5
    times = [p[0] for p in points]
    assert times == sorted(times)


def test_a_path_without_trades_is_its_opening_value_from_start_to_end() -> None:
    sampler = PathSampler(1_000.0, 2_000.0, opening=50.0)
    assert sampler.points(until=1_500.0) == [(1_000.0, 50.0), (1_500.0, 50.0)]


def test_one_bucket_keeps_its_low_and_high_in_time_order() -> None:
    sampler = PathSampler(0.0, 10.0, opening=50.0, buckets=1)
    sampler.add(*arrays([1.0, 2.0, 3.0, 4.0], [52.0, 60.0, 41.0, 45.0]))
    assert sampler.points(until=10.0) == [(0.0, 50.0), (2.0, 60.0), (3.0, 41.0), (10.0, 45.0)]


# --- volume ----------------------------------------------------------------------------------


def test_volume_buckets_sum_the_absolute_cash_exactly() -> None:
    buckets = VolumeBuckets(0.0, 100.0, buckets=4)
    t = np.array([1.0, 2.0, 30.0, 99.0, 100.0])
    cash = np.array([2_500_000, -1_000_000, 10**15, 3, -4], dtype=np.int64)
    buckets.add(t, cash)
    assert buckets.volume == [3_500_000, 10**15, 0, 7]
    assert buckets.trades == [2, 1, 0, 2]
    assert buckets.edges() == [0.0, 25.0, 50.0, 75.0, 100.0]


# --- the last interval -----------------------------------------------------------------------


def test_the_last_interval_reads_the_value_in_force_at_each_end() -> None:
    last = LastInterval(end=10 * HOUR, interval=HOUR, opening=50.0)
    last.add(*arrays([1 * HOUR, 9 * HOUR, 9.5 * HOUR], [55.0, 58.0, 70.0]))
    last.add(*arrays([11 * HOUR], [20.0]))  # after the end: not counted
    assert last.start == 9 * HOUR
    assert (last.before, last.after) == (58.0, 70.0)


def test_without_trades_the_last_interval_did_not_move() -> None:
    last = LastInterval(end=10 * HOUR, interval=HOUR, opening=50.0)
    assert (last.before, last.after) == (50.0, 50.0)


# --- the observation range -------------------------------------------------------------------


def brute_force_observations(
    times: list[float],
    values: list[float],
    rule: DecisionRule,
    opens_at: float,
    decides_at: float,
    v0: float,
) -> list[float]:
    """Every window boundary's observation, walked one interval at a time (as
    `market.decision.twap_from_path` walks them)."""
    start_state = initial_state(rule, opens_at, decides_at, v0)
    S, interval = start_state.window_start, float(rule.interval_seconds)
    obs = value = v0
    pos = 0
    seen = []
    for m in range(math.floor((start_state.observed_at - S) / interval) + 1, rule.intervals + 1):
        while pos < len(times) and math.floor((times[pos] - S) / interval) <= m - 1:
            value = values[pos]
            pos += 1
        step = value - obs
        obs = value if abs(step) <= rule.cap else obs + math.copysign(rule.cap, step)
        if m >= 1:
            seen.append(obs)
    return seen


def test_the_observation_range_of_a_move_the_cap_slows() -> None:
    """Window of 4 one-hour intervals ending at T = 10 h, cap 1: the value jumps from 50 to
    60 at 7.5 h; boundaries 7, 8, 9, 10 h observe 50, 51, 52, 53."""
    rule = DecisionRule(window_seconds=4 * 3600, interval_seconds=3600, cap=1.0)
    observed = ObservationRange(rule, opens_at=0.0, decides_at=10 * HOUR, opening=50.0)
    observed.add(*arrays([7.5 * HOUR], [60.0]))
    assert observed.finish() == (50.0, 53.0)
    assert twap_from_path([7.5 * HOUR], [60.0], rule, 0.0, 10 * HOUR, 50.0) == 51.5


def test_observations_before_the_window_do_not_enter_its_range() -> None:
    """The value sits at 90 until 5.5 h, then 10: the observation climbs by 1 an hour to
    55 at the 5 h boundary and falls to 54 at 6 h, both before the window; the window's
    boundaries (7 h to 10 h) observe 53, 52, 51, 50."""
    rule = DecisionRule(window_seconds=4 * 3600, interval_seconds=3600, cap=1.0)
    observed = ObservationRange(rule, opens_at=0.0, decides_at=10 * HOUR, opening=50.0)
    observed.add(*arrays([0.0, 5.5 * HOUR], [90.0, 10.0]))
    assert observed.finish() == (50.0, 53.0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 12 * HOUR), st.floats(0.0, 100.0)), min_size=0, max_size=40),
    st.sampled_from([1.0, 2.5, 100.0]),
    st.integers(1, 300),
)
def test_the_observation_range_equals_a_walk_of_every_boundary(
    path: list[tuple[float, float]], cap: float, page: int
) -> None:
    rule = DecisionRule(window_seconds=6 * 3600, interval_seconds=3600, cap=cap)
    T = 10 * HOUR
    path = sorted(path)
    times, values = [p[0] for p in path], [p[1] for p in path]
    observed = ObservationRange(rule, opens_at=0.0, decides_at=T, opening=50.0)
    t, v = arrays(times, values)
    for start in range(0, len(times), page):
        observed.add(t[start : start + page], v[start : start + page])
    low, high = observed.finish()
    inside = [(x, y) for x, y in zip(times, values, strict=True) if x <= T]
    expected = brute_force_observations(
        [x for x, _ in inside], [y for _, y in inside], rule, 0.0, T, 50.0
    )
    assert low == pytest.approx(min(expected), abs=1e-9)
    assert high == pytest.approx(max(expected), abs=1e-9)
    A = average(observed.state, rule)
    assert low - 1e-9 <= A <= high + 1e-9


# --- reading prices into welfare -------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.floats(1e-9, 1.0), min_size=2, max_size=2), min_size=1, max_size=20))
def test_the_vectorised_scalar_reader_is_the_assets_own_formula_bit_for_bit(
    rows: list[list[float]],
) -> None:
    asset = ScalarAsset(-20.0, 80.0)
    got = welfare_reader(asset)(np.asarray(rows))
    assert got.tolist() == [asset.expected_welfare(r) for r in rows]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.floats(1e-9, 1.0), min_size=4, max_size=4), min_size=1, max_size=20))
def test_the_vectorised_binned_reader_agrees_with_the_asset(rows: list[list[float]]) -> None:
    asset = BinnedAsset((0.0, 10.0, 25.0, 60.0, 100.0))
    got = welfare_reader(asset)(np.asarray(rows))
    for value, row in zip(got.tolist(), rows, strict=True):
        assert value == pytest.approx(asset.expected_welfare(row), rel=1e-12)
