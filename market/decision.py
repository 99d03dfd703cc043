"""The decision rule: capped time-weighted averages, the greedy choice, exploration, the draw.

Pure numpy and the standard library. The deciding service calls the scalar functions on one
proposal; the simulator calls the ``*_many`` twins on arrays of thousands of runs. Each twin
runs the SAME code as its scalar (one kernel, two numeric backends), so a backtest decides
exactly as the service would; the tests hold them equal bit for bit.

**The rule** (`DecisionRule`, fixed at creation and content-hashed through `to_dict`):
an averaging window ``W`` seconds that ends at the decision time ``T``, an observation
interval ``I`` seconds (``W`` a whole multiple of ``I``), a cap ``c`` and a threshold ``δ``
in welfare units, and exploration ``ε`` with its mode.

**The capped observation.** Time is cut into intervals on a grid anchored at the window
start ``S = T − W``: the interval index of a time ``t`` is ``j(t) = ⌊(t − S) / I⌋`` (this
float expression *is* the grid; every function here uses it, so they agree at boundaries).
Boundary ``m`` closes interval ``m − 1``. When it is crossed the recorded observation moves
toward ``L``, the live expected welfare in force at the end of that interval (the last value
set at a time ``t`` with ``j(t) ≤ m − 1``), by at most ``c``::

    o_m = L                         if |L − o_{m−1}| ≤ c
    o_m = o_{m−1} + c · sign(L − o_{m−1})    otherwise

and ``o_m`` is the observation of the interval it closes. The window holds intervals
``0 … n − 1`` (``n = W / I``), closed by boundaries ``1 … n``; the average is::

    A = (I / W) · Σ_{m=1..n} o_m      (welfare units)

Before the market opens the live value is the ``initial`` one (the opening price), so a
market that opens inside the window counts its opening price back to the window start. The
cap is absolute (welfare units, never a percentage, which would compound), so one interval
moves ``A`` by at most ``c · I / W``, whatever size the price spike.

The averaging state of one branch (`TwapState`) is five floats and advances in O(1) however
many intervals pass: with a constant live value the observation moves linearly by ``c`` per
interval until it reaches ``L`` and then stays, so the sum over ``k`` intervals has a closed
form (`advance`). `twap_from_path` recomputes the same average by brute force, interval by
interval, from a whole price path; it is the reference the incremental state is tested
against.

**The decision.** The greedy choice is the alternative with the highest average, adopted
only if it beats the status quo by MORE than ``δ`` (`greedy_choice`); with exploration the
executed branch is drawn from ``d = (1 − ε) · onehot(greedy) + ε / (K + 1)``
(`decision_distribution`) by a public hash of a seed committed at creation (`commitment`,
`uniform`, `draw`). `decide` puts it together for one proposal, `decide_many` for many.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeGuard, get_args

import numpy as np
import numpy.typing as npt

from db import canonical
from market.errors import InvalidMarketInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ExplorationMode = Literal["none", "ipw", "randomised_only"]
"""How a decision explores:

- ``"none"``: ``ε = 0``; the greedy choice is executed and the markets settle.
- ``"ipw"``: the executed branch is drawn from ``d``; markets always settle, and net profit
  in the executed branch is scaled by ``1 / d[executed]`` (Chen, Kash, Ruberry, Shnayder).
- ``"randomised_only"``: with probability ``ε`` the executed branch is drawn uniformly,
  independent of prices, and the markets settle; otherwise the greedy choice is executed
  and every bet is unwound.
"""

EXPLORATION_MODES: Final[tuple[str, ...]] = get_args(ExplorationMode)

RULE_SCHEMA: Final = "decision-rule/1"
"""Version of the rule's canonical form, part of `DecisionRule.to_dict`."""

MAX_WINDOW_SECONDS: Final = 10 * 366 * 86_400
"""The longest averaging window accepted: ten years, in seconds."""

VALUE_LIMIT: Final = 1e15
"""Largest magnitude accepted for a welfare value, the cap and the threshold (welfare units);
far beyond any metric's tradable bounds, and small enough that no sum here overflows."""

TIME_LIMIT: Final = 1e11
"""Largest magnitude accepted for a time in seconds (the year 5138 as a Unix time)."""

SEED_BYTES: Final = 32
"""Length of a seed from `new_seed`, in bytes."""

MIN_SEED_BYTES: Final = 16
"""Shortest seed accepted: 128 bits, so the commitment cannot be inverted by guessing."""

MAX_SEED_BYTES: Final = 1024

MAX_PROPOSAL_ID: Final = 2**64 - 1
"""Proposal ids enter the draw as 8 bytes, big-endian, unsigned."""

_STEPS_LIMIT: Final = 2.0**53
"""Beyond this many intervals an observation never reaches its target; clamping the step
count here keeps every count an exact float and ``ceil`` finite."""


class InvalidDecisionRule(InvalidMarketInput):
    """A decision rule field is missing, of the wrong type or out of range.

    Attributes:
        field: the name of the offending `DecisionRule` field.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- validation ---------------------------------------------------------------------------


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _is_real(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _real(x: object, name: str, limit: float = VALUE_LIMIT) -> float:
    if not _is_real(x):
        raise InvalidMarketInput(f"{name} must be a number, got {x!r}.")
    value = float(x)  # type: ignore[arg-type]  # _is_real checked the type
    if not math.isfinite(value) or abs(value) > limit:
        raise InvalidMarketInput(f"{name} must be a finite number within ±{limit:g}, got {x!r}.")
    return value


def _reals(x: object, name: str, limit: float = VALUE_LIMIT) -> FloatArray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidMarketInput(f"{name} must be numbers, got {x!r}.") from exc
    if arr.dtype != np.float64:  # pragma: no cover - asarray(dtype=float64) guarantees it
        raise InvalidMarketInput(f"{name} must be numbers.")
    if not bool(np.isfinite(arr).all()) or bool((np.abs(arr) > limit).any()):
        raise InvalidMarketInput(f"{name} must be finite numbers within ±{limit:g}.")
    return arr


def _rule_field_real(value: object, field: str) -> float:
    if not _is_real(value):
        raise InvalidDecisionRule(field, f"{field} must be a number, got {value!r}.")
    x = float(value)  # type: ignore[arg-type]  # _is_real checked the type
    if not math.isfinite(x):
        raise InvalidDecisionRule(field, f"{field} must be finite, got {value!r}.")
    return x


# --- the rule -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionRule:
    """How a proposal's branches are averaged and one of them is chosen; fixed at creation.

    Attributes:
        window_seconds: ``W``, the averaging window in whole seconds, ending at the decision
            time; ``0 < W ≤ MAX_WINDOW_SECONDS``.
        interval_seconds: ``I``, the observation interval in whole seconds; ``0 < I ≤ W`` and
            ``W`` a whole multiple of ``I`` (so the window holds exactly ``n = W / I`` whole
            intervals on a grid that ends at the decision).
        cap: ``c``, welfare units, ``0 < c ≤ VALUE_LIMIT``: the most a branch's recorded
            observation moves per interval (absolute, not a percentage).
        threshold: ``δ``, welfare units, ``0 ≤ δ ≤ VALUE_LIMIT``: an alternative is adopted
            only if its average exceeds the status quo's by strictly more than ``δ``.
        epsilon: ``ε``, probability, ``0 ≤ ε < 1``: the exploration mass spread evenly over
            all ``K + 1`` branches.
        exploration_mode: ``"none"`` exactly when ``ε = 0``, else ``"ipw"`` or
            ``"randomised_only"`` (see `ExplorationMode`).

    Numbers are normalised on construction (``cap=1`` is stored as ``1.0``), so equal rules
    have equal `to_dict` forms and hence equal content hashes.

    Raises:
        InvalidDecisionRule: naming the first field that is out of range.
    """

    window_seconds: int
    interval_seconds: int
    cap: float
    threshold: float = 0.0
    epsilon: float = 0.0
    exploration_mode: ExplorationMode = "none"

    def __post_init__(self) -> None:
        for field in ("window_seconds", "interval_seconds"):
            value = getattr(self, field)
            if not _is_int(value):
                raise InvalidDecisionRule(
                    field, f"{field} must be a whole number of seconds, got {value!r}."
                )
            if not 0 < value <= MAX_WINDOW_SECONDS:
                raise InvalidDecisionRule(
                    field, f"{field} must be between 1 and {MAX_WINDOW_SECONDS}, got {value}."
                )
            object.__setattr__(self, field, int(value))
        if self.interval_seconds > self.window_seconds:
            raise InvalidDecisionRule(
                "interval_seconds",
                f"interval_seconds ({self.interval_seconds}) must not exceed "
                f"window_seconds ({self.window_seconds}).",
            )
        if self.window_seconds % self.interval_seconds != 0:
            raise InvalidDecisionRule(
                "window_seconds",
                f"window_seconds ({self.window_seconds}) must be a whole multiple of "
                f"interval_seconds ({self.interval_seconds}).",
            )
        cap = _rule_field_real(self.cap, "cap")
        if not 0.0 < cap <= VALUE_LIMIT:
            raise InvalidDecisionRule(
                "cap", f"cap must be positive and at most {VALUE_LIMIT:g}, got {cap!r}."
            )
        threshold = _rule_field_real(self.threshold, "threshold")
        if not 0.0 <= threshold <= VALUE_LIMIT:
            raise InvalidDecisionRule(
                "threshold",
                f"threshold must be between 0 and {VALUE_LIMIT:g}, got {threshold!r}.",
            )
        epsilon = _rule_field_real(self.epsilon, "epsilon")
        if not 0.0 <= epsilon < 1.0:
            raise InvalidDecisionRule(
                "epsilon", f"epsilon must be at least 0 and below 1, got {epsilon!r}."
            )
        mode = self.exploration_mode
        if mode not in EXPLORATION_MODES:
            raise InvalidDecisionRule(
                "exploration_mode",
                f"exploration_mode must be one of {', '.join(EXPLORATION_MODES)}, got {mode!r}.",
            )
        if (mode == "none") != (epsilon == 0.0):
            raise InvalidDecisionRule(
                "exploration_mode",
                f"exploration_mode must be 'none' exactly when epsilon is 0; got {mode!r} "
                f"with epsilon {epsilon!r}.",
            )
        # -0.0 would print differently from 0.0 in the canonical form
        object.__setattr__(self, "cap", cap)
        object.__setattr__(self, "threshold", threshold + 0.0)
        object.__setattr__(self, "epsilon", epsilon + 0.0)

    @property
    def intervals(self) -> int:
        """``n = W / I``: the number of whole intervals in the window."""
        return self.window_seconds // self.interval_seconds

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, every field spelled out, for the canonical form and its hash."""
        return {
            "schema": RULE_SCHEMA,
            "window_seconds": self.window_seconds,
            "interval_seconds": self.interval_seconds,
            "cap": self.cap,
            "threshold": self.threshold,
            "epsilon": self.epsilon,
            "exploration_mode": self.exploration_mode,
        }

    def canonical_json(self) -> str:
        """The canonical JSON of `to_dict` (`db.canonical.encode`)."""
        return canonical.encode(self.to_dict())

    def content_hash(self) -> str:
        """SHA-256 of the UTF-8 canonical JSON, 64 lowercase hex digits."""
        return canonical.digest(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionRule:
        """The inverse of `to_dict`; refuses unknown fields and a different schema.

        Raises:
            InvalidDecisionRule: naming the unknown, missing or out-of-range field.
        """
        if not isinstance(data, Mapping):
            raise InvalidDecisionRule("rule", f"a decision rule must be an object, got {data!r}.")
        known = {"schema", *cls.__dataclass_fields__}
        for key in data:
            if key not in known:
                raise InvalidDecisionRule(str(key), f"unknown decision rule field {key!r}.")
        if data.get("schema", RULE_SCHEMA) != RULE_SCHEMA:
            raise InvalidDecisionRule(
                "schema", f"schema must be {RULE_SCHEMA!r}, got {data.get('schema')!r}."
            )
        for key in ("window_seconds", "interval_seconds", "cap"):
            if key not in data:
                raise InvalidDecisionRule(key, f"the decision rule needs {key}.")
        fields = {k: v for k, v in data.items() if k != "schema"}
        return cls(**fields)


# --- one kernel, two numeric backends -----------------------------------------------------


@dataclass(frozen=True)
class _Ops:
    floor: Callable[[Any], Any]
    ceil: Callable[[Any], Any]
    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    absolute: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]


# Python floats and float64 arrays round every +, −, ×, / identically (IEEE 754), and these
# functions are exact, so the same kernel gives the same bits on either backend.
_SCALAR = _Ops(
    floor=lambda x: float(math.floor(x)),
    ceil=lambda x: float(math.ceil(x)),
    minimum=min,
    maximum=max,
    absolute=abs,
    where=lambda c, a, b: a if c else b,
)
_ARRAY = _Ops(
    floor=np.floor,
    ceil=np.ceil,
    minimum=np.minimum,
    maximum=np.maximum,
    absolute=np.abs,
    where=np.where,
)


def _cross(
    ops: _Ops,
    obs: Any,
    cum: Any,
    live: Any,
    m_a: Any,
    m_b: Any,
    n: float,
    interval: float,
    cap: float,
) -> tuple[Any, Any]:
    """Cross boundaries ``m_a … m_b`` (none if ``m_b < m_a``) with one live value ``L``.

    After ``r`` crossings the observation is ``L`` if ``r · c ≥ |L − o|``, else
    ``o + r · c · sign(L − o)``. With ``R`` the first ``r`` that reaches ``L``, the
    crossings that fall in the window (boundaries ``1 … n``), numbered ``r_p … r_q``, add::

        I · (c1 · o + c · sign(L − o) · Σ_{r=r_p}^{r_hi} r + c2 · L)

    where ``r_hi = min(r_q, R − 1)``, ``c1`` counts ``r_p … r_hi`` and ``c2`` counts
    ``max(r_p, R) … r_q``. Constant time for any number of crossings.
    """
    k = ops.maximum(m_b - m_a + 1.0, 0.0)
    diff = live - obs
    gap = ops.absolute(diff)
    step = ops.where(diff >= 0.0, cap, -cap)
    r0 = ops.ceil(ops.minimum(gap / cap, _STEPS_LIMIT))
    # the float quotient can miss by one; settle R on the exact test used below, r·c ≥ |L − o|
    reach = ops.where(
        (r0 >= 1.0) & ((r0 - 1.0) * cap >= gap),
        r0 - 1.0,
        ops.where(r0 * cap < gap, r0 + 1.0, r0),
    )
    new_obs = ops.where(k >= reach, live, obs + k * step)
    first = ops.maximum(m_a, 1.0) - m_a + 1.0
    last = ops.minimum(m_b, n) - m_a + 1.0
    ramp_end = ops.minimum(last, reach - 1.0)
    ramp = ops.maximum(ramp_end - first + 1.0, 0.0)
    flat = ops.maximum(last - ops.maximum(first, reach) + 1.0, 0.0)
    ramp_sum = (first + ramp_end) * ramp / 2.0
    new_cum = cum + interval * (ramp * obs + step * ramp_sum + flat * live)
    return new_obs, new_cum


def _advance(
    ops: _Ops,
    obs: Any,
    observed_at: Any,
    cum: Any,
    window_start: Any,
    live: Any,
    now: Any,
    rule: DecisionRule,
) -> tuple[Any, Any]:
    interval = float(rule.interval_seconds)
    m_a = ops.floor((observed_at - window_start) / interval) + 1.0
    m_b = ops.floor((now - window_start) / interval)
    return _cross(ops, obs, cum, live, m_a, m_b, float(rule.intervals), interval, rule.cap)


def _average(
    ops: _Ops,
    obs: Any,
    observed_at: Any,
    cum: Any,
    window_start: Any,
    live: Any,
    rule: DecisionRule,
) -> Any:
    interval = float(rule.interval_seconds)
    n = float(rule.intervals)
    m_a = ops.floor((observed_at - window_start) / interval) + 1.0
    _, total = _cross(ops, obs, cum, live, m_a, n, n, interval, rule.cap)
    return total / float(rule.window_seconds)


# --- the averaging state of one branch ----------------------------------------------------


@dataclass(frozen=True)
class TwapState:
    """The capped time-weighted averaging state of one branch: O(1) to store and advance.

    Attributes:
        observation: welfare units; the recorded observation of the last interval closed,
            ``o_{j(observed_at)}`` (the ``initial`` value until a boundary is crossed).
        observed_at: seconds; the state accounts for time up to here: every boundary at or
            before it is crossed.
        cum_weighted: welfare units × seconds; ``I · Σ o_m`` over the window boundaries
            ``m ≤ j(observed_at)`` crossed so far (only time inside the window counts).
        window_start: seconds; ``S = T − W``, the anchor of the interval grid.
        last_live: welfare units; the live expected welfare in force from ``observed_at`` on
            (the value after the last trade).
    """

    observation: float
    observed_at: float
    cum_weighted: float
    window_start: float
    last_live: float


def initial_state(
    rule: DecisionRule, opens_at: float, decides_at: float, initial: float
) -> TwapState:
    """The state of a branch when its market opens.

    Args:
        rule: the proposal's decision rule.
        opens_at: seconds (e.g. a Unix time); when trading starts.
        decides_at: seconds; the decision time ``T``, ``≥ opens_at``; the window is
            ``[T − W, T]``.
        initial: welfare units; the expected welfare the market opens at (its live value
            until the first trade).

    Returns:
        ``observation = last_live = initial``, ``cum_weighted = 0``, ``window_start = T − W``
        and ``observed_at = min(opens_at, T − W)``: when the market opens inside the window,
        the stretch before the opening counts at the opening value.

    Raises:
        InvalidMarketInput: non-finite or out-of-range numbers, or ``decides_at < opens_at``.
    """
    opens = _real(opens_at, "opens_at", TIME_LIMIT)
    decides = _real(decides_at, "decides_at", TIME_LIMIT)
    value = _real(initial, "The initial welfare value")
    if decides < opens:
        raise InvalidMarketInput(
            f"decides_at ({decides!r}) must not be before opens_at ({opens!r})."
        )
    start = decides - float(rule.window_seconds)
    return TwapState(value, min(opens, start), 0.0, start, value)


def advance(state: TwapState, rule: DecisionRule, now: float, live_value: float) -> TwapState:
    """Move a branch's averaging state forward to ``now``; O(1) however long the gap.

    Every boundary ``m`` with ``j(observed_at) < m ≤ j(now)`` is crossed with the value in
    force since ``observed_at``, ``state.last_live``; then ``live_value`` becomes the value
    in force from ``now`` on. Call it after each trade with the expected welfare AFTER the
    trade (the value before it is already in the state), and from a crank with the current
    expected welfare (unchanged, so nothing but time moves). Several calls at the same
    ``now`` are fine: the last value wins.

    Args:
        state: the branch's state.
        rule: the proposal's decision rule (the one the state was made with).
        now: seconds, ``≥ state.observed_at``.
        live_value: welfare units; the live expected welfare from ``now`` on.

    Returns:
        The new state, ``observed_at = now``, ``last_live = live_value``.

    Raises:
        InvalidMarketInput: non-finite or out-of-range numbers, or time going backwards.
    """
    t = _real(now, "now", TIME_LIMIT)
    value = _real(live_value, "The live welfare value")
    if t < state.observed_at:
        raise InvalidMarketInput(
            f"Time cannot go backwards: now ({t!r}) is before the last update "
            f"({state.observed_at!r})."
        )
    obs, cum = _advance(
        _SCALAR,
        state.observation,
        state.observed_at,
        state.cum_weighted,
        state.window_start,
        state.last_live,
        t,
        rule,
    )
    return TwapState(obs, t, cum, state.window_start, value)


def average(state: TwapState, rule: DecisionRule) -> float:
    """The capped time-weighted average ``A = (I / W) · Σ_{m=1..n} o_m`` of one branch.

    Boundaries not yet crossed, up to the decision ``T = S + W``, are crossed with
    ``state.last_live``: at or after ``T`` this is the decision's average; before ``T`` it
    is what the average will be if nothing trades until then. Time after ``T`` never
    counts. O(1). The state is not changed.

    Returns:
        Welfare units; ``min o_m ≤ A ≤ max o_m``.
    """
    result = _average(
        _SCALAR,
        state.observation,
        state.observed_at,
        state.cum_weighted,
        state.window_start,
        state.last_live,
        rule,
    )
    return float(result)


# --- many states at once ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TwapStates:
    """Many `TwapState` values as parallel float64 arrays of one shape (branches × runs …).

    Attributes: as `TwapState`, one array each.
    """

    observation: FloatArray
    observed_at: FloatArray
    cum_weighted: FloatArray
    window_start: FloatArray
    last_live: FloatArray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.observation.shape)

    @classmethod
    def from_states(cls, states: Sequence[TwapState]) -> TwapStates:
        """Stack single states into a 1-d batch."""

        def column(name: str) -> FloatArray:
            return np.array([getattr(s, name) for s in states], dtype=np.float64)

        return cls(
            column("observation"),
            column("observed_at"),
            column("cum_weighted"),
            column("window_start"),
            column("last_live"),
        )

    def state(self, index: int | tuple[int, ...]) -> TwapState:
        """The single state at ``index``."""
        return TwapState(
            float(self.observation[index]),
            float(self.observed_at[index]),
            float(self.cum_weighted[index]),
            float(self.window_start[index]),
            float(self.last_live[index]),
        )


def initial_states(
    rule: DecisionRule,
    opens_at: npt.ArrayLike,
    decides_at: npt.ArrayLike,
    initial: npt.ArrayLike,
) -> TwapStates:
    """`initial_state` over arrays (broadcast together); the same numbers row by row."""
    opens, decides, value = np.broadcast_arrays(
        _reals(opens_at, "opens_at", TIME_LIMIT),
        _reals(decides_at, "decides_at", TIME_LIMIT),
        _reals(initial, "The initial welfare values"),
    )
    if bool((decides < opens).any()):
        raise InvalidMarketInput("decides_at must not be before opens_at.")
    start = decides - float(rule.window_seconds)
    return TwapStates(
        value.copy(), np.minimum(opens, start), np.zeros(value.shape), start, value.copy()
    )


def advance_many(
    states: TwapStates, rule: DecisionRule, now: npt.ArrayLike, live_value: npt.ArrayLike
) -> TwapStates:
    """`advance` over arrays: ``now`` and ``live_value`` broadcast to the states' shape.

    The same kernel as `advance`, so each entry equals the scalar result exactly.

    Raises:
        InvalidMarketInput: non-finite or out-of-range numbers, or time going backwards.
    """
    t = np.broadcast_to(_reals(now, "now", TIME_LIMIT), states.shape)
    value = np.broadcast_to(_reals(live_value, "The live welfare values"), states.shape)
    if bool((t < states.observed_at).any()):
        raise InvalidMarketInput("Time cannot go backwards: some now is before its last update.")
    obs, cum = _advance(
        _ARRAY,
        states.observation,
        states.observed_at,
        states.cum_weighted,
        states.window_start,
        states.last_live,
        t,
        rule,
    )
    return TwapStates(
        np.asarray(obs, dtype=np.float64),
        t.astype(np.float64, copy=True),
        np.asarray(cum, dtype=np.float64),
        states.window_start,
        value.astype(np.float64, copy=True),
    )


def average_many(states: TwapStates, rule: DecisionRule) -> FloatArray:
    """`average` over arrays: each entry equals the scalar result exactly."""
    result = _average(
        _ARRAY,
        states.observation,
        states.observed_at,
        states.cum_weighted,
        states.window_start,
        states.last_live,
        rule,
    )
    return np.asarray(result, dtype=np.float64)


# --- the reference ------------------------------------------------------------------------


def twap_from_path(
    times: Sequence[float],
    values: Sequence[float],
    rule: DecisionRule,
    opens_at: float,
    decides_at: float,
    initial: float,
) -> float:
    """The capped average recomputed by brute force from a whole price path.

    The live value is ``initial`` until ``times[0]``, then ``values[i]`` from ``times[i]``
    on. Walks every boundary from the first after ``min(opens_at, T − W)`` to ``T``, moving
    the observation step by step by at most ``c`` toward the value in force at the end of
    each interval, and sums the window's observations. O(intervals + changes); a test
    oracle for `advance` and `average` (which agree to rounding, ~1e-12 relative).

    Args:
        times: seconds, non-decreasing, each ``≥ opens_at``; when the live value changed.
        values: welfare units; the live value from the matching time on.
        rule, opens_at, decides_at, initial: as `initial_state`.

    Returns:
        ``A`` in welfare units.

    Raises:
        InvalidMarketInput: mismatched lengths, times out of order or before the opening.
    """
    if len(times) != len(values):
        raise InvalidMarketInput(
            f"times and values must be the same length, got {len(times)} and {len(values)}."
        )
    start_state = initial_state(rule, opens_at, decides_at, initial)
    ts = [_real(t, "A path time", TIME_LIMIT) for t in times]
    vs = [_real(v, "A path value") for v in values]
    if any(b < a for a, b in itertools.pairwise(ts)) or (ts and ts[0] < opens_at):
        raise InvalidMarketInput("Path times must be non-decreasing and not before opens_at.")
    start = start_state.window_start
    interval = float(rule.interval_seconds)
    cap = rule.cap

    def index(t: float) -> int:
        return math.floor((t - start) / interval)

    obs = start_state.observation
    value = obs
    total = 0.0
    pos = 0
    for m in range(index(start_state.observed_at) + 1, rule.intervals + 1):
        while pos < len(ts) and index(ts[pos]) <= m - 1:
            value = vs[pos]
            pos += 1
        obs = value if abs(value - obs) <= cap else obs + (cap if value > obs else -cap)
        if m >= 1:
            total += obs * interval
    return total / float(rule.window_seconds)


# --- the greedy choice --------------------------------------------------------------------


def _averaged(averaged: npt.ArrayLike) -> FloatArray:
    arr = _reals(averaged, "The averaged welfare values")
    if arr.ndim < 1 or arr.shape[-1] < 2:
        raise InvalidMarketInput(
            "The averaged welfare values need a last axis of at least two branches "
            f"(K alternatives + the status quo), got shape {arr.shape}."
        )
    return arr


def _status_quo(index: object, n_branches: int) -> int:
    if not _is_int(index) or not 0 <= index < n_branches:
        raise InvalidMarketInput(
            f"The status quo index must be a branch, 0 to {n_branches - 1}, got {index!r}."
        )
    return int(index)


def _threshold(threshold: object) -> float:
    value = _real(threshold, "The threshold")
    if value < 0.0:
        raise InvalidMarketInput(f"The threshold must not be negative, got {value!r}.")
    return value


def _epsilon(epsilon: object) -> float:
    value = _real(epsilon, "epsilon", 1.0)
    if not 0.0 <= value < 1.0:
        raise InvalidMarketInput(f"epsilon must be at least 0 and below 1, got {value!r}.")
    return value


def best_alternative(averaged: npt.ArrayLike, status_quo_index: int) -> tuple[IntArray, FloatArray]:
    """The best alternative and its margin over the status quo, per row.

    Args:
        averaged: welfare units, shape ``(..., K + 1)``: one average per branch.
        status_quo_index: which branch is the status quo.

    Returns:
        ``(best, margin)``, each of shape ``(...)``: ``best`` the index of the highest
        average among the alternatives (ties: the lowest index), and
        ``margin = averaged[best] − averaged[status_quo]`` (welfare units, float64).
    """
    arr = _averaged(averaged)
    sq = _status_quo(status_quo_index, arr.shape[-1])
    masked = arr.copy()
    masked[..., sq] = -np.inf
    best = np.argmax(masked, axis=-1).astype(np.int64)  # argmax keeps the first maximum
    top = np.take_along_axis(arr, best[..., None], axis=-1)[..., 0]
    return best, top - arr[..., sq]


def greedy_choice(averaged: npt.ArrayLike, status_quo_index: int, threshold: float) -> IntArray:
    """The branch the markets favour, per row.

    The best alternative (highest average; ties among alternatives go to the lowest index)
    is adopted exactly when ``averaged[best] − averaged[status_quo] > δ``, the difference
    taken in float64; a margin equal to ``δ`` (a tie when ``δ = 0``) or below it keeps the
    status quo.

    Args:
        averaged: welfare units, shape ``(..., K + 1)``.
        status_quo_index: which branch is the status quo.
        threshold: ``δ``, welfare units, ``≥ 0``.

    Returns:
        Branch indices, int64, shape ``(...)`` (0-d for one proposal).
    """
    delta = _threshold(threshold)
    best, margin = best_alternative(averaged, status_quo_index)
    return np.where(margin > delta, best, np.int64(status_quo_index)).astype(np.int64)


def decision_distribution(greedy: npt.ArrayLike, n_branches: int, epsilon: float) -> FloatArray:
    """The execution distribution ``d = (1 − ε) · onehot(greedy) + ε / (K + 1)``.

    Args:
        greedy: branch indices, any shape.
        n_branches: ``K + 1 ≥ 2``.
        epsilon: ``ε`` in ``[0, 1)``.

    Returns:
        Probabilities, shape ``greedy.shape + (K + 1,)``: every entry ``≥ ε / (K + 1)``,
        each row summing to 1 within a few ulps; exactly the one-hot vector when ``ε = 0``.
    """
    eps = _epsilon(epsilon)
    if not _is_int(n_branches) or n_branches < 2:
        raise InvalidMarketInput(f"n_branches must be an integer ≥ 2, got {n_branches!r}.")
    g = np.asarray(greedy)
    if g.dtype.kind not in "iu" or bool(((g < 0) | (g >= n_branches)).any()):
        raise InvalidMarketInput(f"greedy must hold branch indices 0 to {n_branches - 1}.")
    d = np.full((*g.shape, int(n_branches)), eps / n_branches, dtype=np.float64)
    np.put_along_axis(d, g[..., None].astype(np.int64), (1.0 - eps) + eps / n_branches, -1)
    return d


# --- the seed and the draw ----------------------------------------------------------------


def _seed(seed: object) -> bytes:
    if not isinstance(seed, bytes):
        raise InvalidMarketInput(f"The seed must be bytes, got {type(seed).__name__}.")
    if not MIN_SEED_BYTES <= len(seed) <= MAX_SEED_BYTES:
        raise InvalidMarketInput(
            f"The seed must be {MIN_SEED_BYTES} to {MAX_SEED_BYTES} bytes, got {len(seed)}."
        )
    return seed


def _proposal_id(proposal_id: object) -> int:
    if not _is_int(proposal_id) or not 0 <= proposal_id <= MAX_PROPOSAL_ID:
        raise InvalidMarketInput(
            f"The proposal id must be an integer from 0 to 2**64 − 1, got {proposal_id!r}."
        )
    return int(proposal_id)


def new_seed() -> bytes:
    """A fresh secret seed of `SEED_BYTES` random bytes (``secrets.token_bytes``)."""
    return secrets.token_bytes(SEED_BYTES)


def commitment(seed: bytes) -> str:
    """The public commitment to a seed, published at creation: ``SHA-256(seed)``, hex."""
    return hashlib.sha256(_seed(seed)).hexdigest()


def uniform(seed: bytes, proposal_id: int) -> float:
    """The public uniform number of a decision, in ``[0, 1]``::

        h = SHA-256(seed ‖ proposal_id as 8 bytes, big-endian, unsigned)
        u = int.from_bytes(h[:8], "big") / 2**64      (correctly rounded to float64)

    Anyone holding the revealed seed recomputes it. ``u`` rounds to 1.0 for the top
    ``2**10`` of the ``2**64`` hash values; `inverse_cdf` guards that case.
    """
    digest = hashlib.sha256(_seed(seed) + _proposal_id(proposal_id).to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def uniform_many(seeds: Sequence[bytes], proposal_ids: Sequence[int]) -> FloatArray:
    """`uniform` per row, as a float64 array (same numbers: it calls `uniform`)."""
    if len(seeds) != len(proposal_ids):
        raise InvalidMarketInput(
            f"seeds and proposal_ids must be the same length, got {len(seeds)} and "
            f"{len(proposal_ids)}."
        )
    ids = [int(p) if isinstance(p, np.integer) else p for p in proposal_ids]
    return np.array([uniform(s, p) for s, p in zip(seeds, ids, strict=True)], dtype=np.float64)


def _distribution(d: npt.ArrayLike) -> FloatArray:
    arr = _reals(d, "The distribution d", 1.0)
    if arr.ndim < 1 or arr.shape[-1] < 1:
        raise InvalidMarketInput(f"The distribution d needs at least one branch, got {arr.shape}.")
    if bool((arr < 0.0).any()) or bool((np.abs(arr.sum(axis=-1) - 1.0) > 1e-9).any()):
        raise InvalidMarketInput("The distribution d must be non-negative and sum to 1.")
    return arr


def inverse_cdf(u: npt.ArrayLike, d: npt.ArrayLike) -> IntArray:
    """The branch a uniform number selects: the first ``i`` with ``u < cumsum(d)[i]``.

    A branch with ``d[i] = 0`` is never selected. If no bucket holds ``u`` (``u = 1.0``, or
    a float cumsum that ends just below 1) the last branch with ``d[i] > 0`` is taken.

    Args:
        u: numbers in ``[0, 1]``, shape ``(...)``.
        d: probabilities, shape ``(..., K + 1)`` (or one row for every ``u``).

    Returns:
        Branch indices, int64, shape ``(...)``.
    """
    probs = _distribution(d)
    us = _reals(u, "u", 1.0)
    if bool((us < 0.0).any()):
        raise InvalidMarketInput("u must lie in [0, 1].")
    cum = np.cumsum(probs, axis=-1)
    hit = us[..., None] < cum
    first = np.argmax(hit, axis=-1)
    k = probs.shape[-1] - 1
    last_positive = k - np.argmax(probs[..., ::-1] > 0.0, axis=-1)
    chosen: IntArray = np.where(hit.any(axis=-1), first, last_positive).astype(np.int64)
    return chosen


def draw(seed: bytes, proposal_id: int, d: npt.ArrayLike) -> int:
    """The branch drawn from ``d`` for one proposal: ``inverse_cdf(uniform(seed, id), d)``.

    A pure function of its arguments: the same seed, id and ``d`` always give the same
    branch, and over many seeds branch ``i`` comes up with frequency ``d[i]``.
    """
    probs = _distribution(d)
    if probs.ndim != 1:
        raise InvalidMarketInput(f"draw takes one distribution, got shape {probs.shape}.")
    return int(inverse_cdf(uniform(seed, proposal_id), probs))


def draw_many(seeds: Sequence[bytes], proposal_ids: Sequence[int], d: npt.ArrayLike) -> IntArray:
    """`draw` per row: ``d`` has shape ``(N, K + 1)`` (or one row for all); same results."""
    return inverse_cdf(uniform_many(seeds, proposal_ids), d)


# --- the decision -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Decisions:
    """Many decisions at once (see `Decision`); every array has the batch shape ``(...)``,
    ``distribution`` has ``(..., K + 1)``."""

    best_alternative: IntArray
    margin: FloatArray
    greedy: IntArray
    distribution: FloatArray
    executed: IntArray
    explored: BoolArray
    settles: BoolArray
    probability: FloatArray


def decide_many(
    rule: DecisionRule,
    averaged: npt.ArrayLike,
    status_quo_index: int,
    u: npt.ArrayLike | None = None,
) -> Decisions:
    """Decide many proposals (rows) under one rule; `decide` is this on one row.

    Given the greedy choice ``g`` and ``d`` (see `greedy_choice`, `decision_distribution`):

    - ``"none"``: executed ``= g``; settles; not explored. ``u`` is ignored.
    - ``"ipw"``: executed ``= inverse_cdf(u, d)``; settles; explored when executed ``≠ g``.
      ``probability = d[executed]`` is the IPW scale's denominator.
    - ``"randomised_only"``: the exploration coin is ``u < ε``. Heads: executed
      ``= min(⌊(u / ε) · (K + 1)⌋, K)`` (uniform over all branches, the greedy one
      included, independent of prices), explored, and the markets settle. Tails: executed
      ``= g``, not explored, and every bet is unwound (``settles`` false). Together the
      executed branch is distributed as ``d``.

    Args:
        rule: the proposal's decision rule (threshold, ε, mode).
        averaged: welfare units, shape ``(..., K + 1)``.
        status_quo_index: which branch is the status quo.
        u: uniform numbers (`uniform`, `uniform_many`), shape ``(...)``; needed when
            ``ε > 0``.
    """
    arr = _averaged(averaged)
    n = arr.shape[-1]
    best, margin = best_alternative(arr, status_quo_index)
    greedy = np.where(margin > rule.threshold, best, np.int64(status_quo_index)).astype(np.int64)
    d = decision_distribution(greedy, n, rule.epsilon)
    batch = greedy.shape
    if rule.exploration_mode == "none":
        executed = greedy
        explored = np.zeros(batch, dtype=np.bool_)
        settles = np.ones(batch, dtype=np.bool_)
    else:
        if u is None:
            raise InvalidMarketInput("Exploration needs the uniform number u of the seed.")
        us = np.broadcast_to(_reals(u, "u", 1.0), batch)
        if bool((us < 0.0).any()):
            raise InvalidMarketInput("u must lie in [0, 1].")
        if rule.exploration_mode == "ipw":
            executed = inverse_cdf(us, d)
            explored = executed != greedy
            settles = np.ones(batch, dtype=np.bool_)
        else:
            coin = us < rule.epsilon
            uniform_pick = np.minimum(np.floor((us / rule.epsilon) * n), n - 1).astype(np.int64)
            executed = np.where(coin, uniform_pick, greedy).astype(np.int64)
            explored = coin
            settles = coin.copy()
    probability = np.take_along_axis(d, executed[..., None], axis=-1)[..., 0]
    return Decisions(best, margin, greedy, d, executed, explored, settles, probability)


@dataclass(frozen=True)
class Decision:
    """The decision of one proposal, with everything needed to recompute it.

    Attributes:
        averaged: welfare units; each branch's capped time-weighted average.
        status_quo_index: which branch is the status quo.
        best_alternative: the alternative with the highest average (ties: lowest index).
        margin: welfare units; ``averaged[best_alternative] − averaged[status_quo_index]``.
        greedy: ``best_alternative`` if ``margin > δ``, else the status quo.
        distribution: ``d``, probabilities; ``(1 − ε) · onehot(greedy) + ε / (K + 1)``.
        u: the public uniform number of the seed (`uniform`), or None without a seed.
        executed: the branch that is executed.
        explored: whether chance picked it: for ``"ipw"`` executed ``≠ greedy``; for
            ``"randomised_only"`` the exploration coin ``u < ε``; never for ``"none"``.
        settles: whether the markets settle in the executed branch (false only for
            ``"randomised_only"`` when the coin said greedy: then every bet is unwound).
        probability: ``d[executed]``, the IPW denominator.
        exploration_mode: the rule's mode.
    """

    averaged: tuple[float, ...]
    status_quo_index: int
    best_alternative: int
    margin: float
    greedy: int
    distribution: tuple[float, ...]
    u: float | None
    executed: int
    explored: bool
    settles: bool
    probability: float
    exploration_mode: ExplorationMode

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (for the audit event and the report)."""
        return {
            "averaged": list(self.averaged),
            "status_quo_index": self.status_quo_index,
            "best_alternative": self.best_alternative,
            "margin": self.margin,
            "greedy": self.greedy,
            "distribution": list(self.distribution),
            "u": self.u,
            "executed": self.executed,
            "explored": self.explored,
            "settles": self.settles,
            "probability": self.probability,
            "exploration_mode": self.exploration_mode,
        }


def decide(
    rule: DecisionRule,
    averaged: Sequence[float] | FloatArray,
    status_quo_index: int,
    seed: bytes | None,
    proposal_id: int,
) -> Decision:
    """Decide one proposal: `decide_many` on one row, with ``u = uniform(seed, proposal_id)``.

    Args:
        rule: the proposal's decision rule.
        averaged: welfare units, one per branch (`average` of each branch's state).
        status_quo_index: which branch is the status quo.
        seed: the seed committed at creation (its `commitment` was published); required when
            ``ε > 0``; with ``ε = 0`` it may be None (if given, ``u`` is still reported).
        proposal_id: the proposal's id, ``0 ≤ id < 2**64``.

    Raises:
        InvalidMarketInput: bad averages, index, seed or id; or no seed when ``ε > 0``.
    """
    arr = _averaged(averaged)
    if arr.ndim != 1:
        raise InvalidMarketInput(f"decide takes one proposal's averages, got shape {arr.shape}.")
    _proposal_id(proposal_id)
    if seed is None and rule.epsilon > 0.0:
        raise InvalidMarketInput("A decision with exploration needs the proposal's seed.")
    u = None if seed is None else uniform(seed, proposal_id)
    batch = decide_many(rule, arr[None, :], status_quo_index, None if u is None else [u])
    return Decision(
        averaged=tuple(float(x) for x in arr),
        status_quo_index=int(status_quo_index),
        best_alternative=int(batch.best_alternative[0]),
        margin=float(batch.margin[0]),
        greedy=int(batch.greedy[0]),
        distribution=tuple(float(x) for x in batch.distribution[0]),
        u=u,
        executed=int(batch.executed[0]),
        explored=bool(batch.explored[0]),
        settles=bool(batch.settles[0]),
        probability=float(batch.probability[0]),
        exploration_mode=rule.exploration_mode,
    )


def margin_multiple(rule: DecisionRule | None, n_branches: int) -> float | None:
    """``M = 1 / d_min − 1 = (K + 1) / ε − 1`` for ipw exploration (``ε > 0``), else None.

    A buy must leave ``cash ≥ M · spent`` in its branch (module docstring): if the branch
    is executed with probability ``d ≥ d_min``, the scaled loss of the net spend is at most
    ``spent / d_min``, of which ``spent`` is already paid.
    """
    if rule is None or rule.exploration_mode != "ipw" or rule.epsilon <= 0.0:
        return None
    d_min = rule.epsilon / n_branches
    return 1.0 / d_min - 1.0
