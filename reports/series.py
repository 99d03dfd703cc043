"""Bounded summaries of a price history, fed a page of trades at a time (pure; no I/O).

A report reads a market's trades a page at a time (`reports.queries.trade_pages`) and
pushes each page, as numpy arrays in time order, into these accumulators, which keep only
what the report shows. Memory is set by the output, never by the length of the history,
and the work per page is a few vectorised passes, not a Python step per trade:

- `PathSampler`: the expected welfare over time for the chart, at most `MAX_PATH_POINTS`
  (500) points: the time axis is cut into `PATH_BUCKETS` equal buckets and each keeps its
  lowest and highest value (in time order), so every spike survives; plus the opening
  value and the value in force at the end.
- `VolumeBuckets`: ``Σ |cash|`` (exact integers) and the trade count in `VOLUME_BUCKETS`
  equal buckets.
- `LastInterval`: the value in force at both ends of the last observation interval.
- `ObservationRange`: the range of the capped observation over the decision window, by
  replaying the decision rule's own averaging state (`market.decision.initial_state`,
  `market.decision.advance`) along the trades: the band of a LONG/SHORT branch.

Times are seconds since the Unix epoch (float64); values are welfare units.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from market.decision import DecisionRule, TwapState, advance, initial_state

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PATH_BUCKETS: Final = 249
"""Buckets of the price path; with the opening and closing points at most
``2 · 249 + 2 = 500`` points per branch."""

MAX_PATH_POINTS: Final = 2 * PATH_BUCKETS + 2
"""The most points a branch's price path holds (500)."""

VOLUME_BUCKETS: Final = 48
"""Bars of the volume chart."""


def buckets_of(t: FloatArray, start: float, end: float, buckets: int) -> IntArray:
    """The bucket of each time on ``[start, end]`` cut into ``buckets`` equal parts,
    ``⌊(t − start) / (end − start) · buckets⌋`` clamped to ``0 … buckets − 1``."""
    if end <= start:
        return np.zeros(t.shape, dtype=np.int64)
    k = np.floor((t - start) / (end - start) * buckets)
    return np.clip(k, 0, buckets - 1).astype(np.int64)


def _runs(keys: IntArray) -> list[tuple[int, int]]:
    """``(first, stop)`` index ranges of the runs of equal consecutive keys."""
    if keys.size == 0:
        return []
    cuts = [0, *(np.flatnonzero(np.diff(keys)) + 1).tolist(), int(keys.size)]
    return list(itertools.pairwise(cuts))


@dataclass
class PathSampler:
    """Min–max downsampling of a step path (see the module docstring).

    Args:
        start, end: the time axis (seconds).
        opening: the value in force from ``start`` until the first point.
        buckets: how many buckets (default `PATH_BUCKETS`).
    """

    start: float
    end: float
    opening: float
    buckets: int = PATH_BUCKETS
    _points: list[tuple[float, float]] = field(default_factory=list)
    _bucket: int = -1
    _low: tuple[float, float] | None = None
    _high: tuple[float, float] | None = None
    last: float = math.nan

    def __post_init__(self) -> None:
        self.last = self.opening

    def _flush(self) -> None:
        if self._low is None or self._high is None:
            return
        if self._low == self._high:
            self._points.append(self._low)
        else:
            self._points.extend(sorted((self._low, self._high)))
        self._low = self._high = None

    def add(self, t: FloatArray, values: FloatArray) -> None:
        """Each ``values[i]`` is in force from ``t[i]`` on (``t`` non-decreasing, and not
        before the times of earlier pages)."""
        keys = buckets_of(t, self.start, self.end, self.buckets)
        for first, stop in _runs(keys):
            k = int(keys[first])
            if k != self._bucket:
                self._flush()
                self._bucket = k
            run = values[first:stop]
            lo, hi = first + int(np.argmin(run)), first + int(np.argmax(run))
            low, high = (float(t[lo]), float(values[lo])), (float(t[hi]), float(values[hi]))
            if self._low is None or low[1] < self._low[1]:
                self._low = low
            if self._high is None or high[1] > self._high[1]:
                self._high = high
        if values.size:
            self.last = float(values[-1])

    def points(self, until: float) -> list[tuple[float, float]]:
        """The sampled path: ``(start, opening)``, each bucket's extremes, and the value in
        force at ``until`` (at most ``2 · buckets + 2`` points, time non-decreasing)."""
        self._flush()
        self._bucket = -1
        body = [p for p in self._points if self.start <= p[0] <= until]
        return [(self.start, self.opening), *body, (max(until, self.start), self.last)]


@dataclass
class VolumeBuckets:
    """Volume in equal time buckets over ``[start, end]``."""

    start: float
    end: float
    buckets: int = VOLUME_BUCKETS
    volume: list[int] = field(default_factory=list)
    trades: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.volume = [0] * self.buckets
        self.trades = [0] * self.buckets

    def add(self, t: FloatArray, cash_micros: IntArray) -> None:
        """Trades at ``t`` that moved ``cash_micros`` each (either sign; summed exactly)."""
        keys = buckets_of(t, self.start, self.end, self.buckets)
        absolute = np.abs(cash_micros)
        for first, stop in _runs(keys):
            k = int(keys[first])
            self.volume[k] += int(absolute[first:stop].sum())
            self.trades[k] += stop - first

    def edges(self) -> list[float]:
        """The ``buckets + 1`` bucket edges (seconds)."""
        width = (self.end - self.start) / self.buckets
        return [self.start + i * width for i in range(self.buckets)] + [self.end]


@dataclass
class LastInterval:
    """The value in force at ``end − interval`` and at ``end``."""

    end: float
    interval: float
    opening: float
    before: float = math.nan
    after: float = math.nan

    def __post_init__(self) -> None:
        self.before = self.after = self.opening

    @property
    def start(self) -> float:
        """``end − interval``."""
        return self.end - self.interval

    def add(self, t: FloatArray, values: FloatArray) -> None:
        """Each ``values[i]`` is in force from ``t[i]`` on (``t`` non-decreasing)."""
        at_start = int(np.searchsorted(t, self.start, side="right"))
        if at_start:
            self.before = float(values[at_start - 1])
        at_end = int(np.searchsorted(t, self.end, side="right"))
        if at_end:
            self.after = float(values[at_end - 1])


class ObservationRange:
    """The lowest and highest capped observation of the decision window.

    Replays the branch's averaging state from the opening with the same `initial_state`
    and `advance` the trading service applies with each trade, and records the observation
    of every window boundary the replay crosses (``1 ≤ m ≤ n``). Only the last trade of
    each observation interval changes what a boundary sees, so `advance` runs once per
    interval that has trades (the same state as once per trade). Between two recorded
    boundaries the observation moves monotonically toward one live value, so the recorded
    extremes are the extremes of every boundary; boundary 1 is visited on purpose so that
    no observation from before the window enters. `finish` projects the state to ``T``
    with the value last in force, as the decision (or the would-be decision) does.
    """

    def __init__(
        self, rule: DecisionRule, opens_at: float, decides_at: float, opening: float
    ) -> None:
        self.rule = rule
        self.decides_at = decides_at
        self.state: TwapState = initial_state(rule, min(opens_at, decides_at), decides_at, opening)
        self.first_boundary = self.state.window_start + rule.interval_seconds
        self.low = math.inf
        self.high = -math.inf

    def _index(self, t: float) -> int:
        # market.decision's grid: j(t) = ⌊(t − S) / I⌋
        return math.floor((t - self.state.window_start) / self.rule.interval_seconds)

    def _to(self, t: float, value: float) -> None:
        t = min(max(t, self.state.observed_at), self.decides_at)
        if self.state.observed_at < self.first_boundary <= t:
            self.state = advance(self.state, self.rule, self.first_boundary, self.state.last_live)
            self._record()
        self.state = advance(self.state, self.rule, t, value)
        self._record()

    def _record(self) -> None:
        if self._index(self.state.observed_at) >= 1:
            self.low = min(self.low, self.state.observation)
            self.high = max(self.high, self.state.observation)

    def add(self, t: FloatArray, values: FloatArray) -> None:
        """Each live value ``values[i]`` is in force from ``t[i]`` on (time after ``T`` is
        ignored: it never counts toward the average)."""
        inside = int(np.searchsorted(t, self.decides_at, side="right"))
        t, values = t[:inside], values[:inside]
        if t.size == 0:
            return
        grid = np.floor((t - self.state.window_start) / float(self.rule.interval_seconds))
        for _first, stop in _runs(grid.astype(np.int64)):
            self._to(float(t[stop - 1]), float(values[stop - 1]))

    def finish(self) -> tuple[float, float]:
        """``(low, high)`` over the window, the projection to ``T`` included."""
        self._to(self.decides_at, self.state.last_live)
        if self.low > self.high:  # no boundary of the window crossed (cannot happen by T)
            value = self.state.observation
            return value, value
        return self.low, self.high
