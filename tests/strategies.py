"""Hypothesis strategies shared by the whole test suite (one home, as in attrs).

Market strategies come first: float LMSR states, integer books, trades and trade
sequences, price vectors and bin edges. Other packages add their own sections below.
"""

from __future__ import annotations

from hypothesis import strategies as st

from market.book import MAX_SHARES_MICROS, Book
from market.decision import DecisionRule

# --- market: float LMSR -------------------------------------------------------------------

liquidities = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
"""A liquidity ``b`` for the float API (whole units)."""


@st.composite
def lmsr_states(
    draw: st.DrawFn, min_n: int = 2, max_n: int = 8, max_ratio: float = 50.0
) -> tuple[list[float], float]:
    """``(q, b)`` with ``|q_i / b| ≤ max_ratio``: ordinary float LMSR states."""
    b = draw(liquidities)
    n = draw(st.integers(min_n, max_n))
    ratios = draw(
        st.lists(
            st.floats(-max_ratio, max_ratio, allow_nan=False, allow_infinity=False),
            min_size=n,
            max_size=n,
        )
    )
    return [x * b for x in ratios], b


@st.composite
def extreme_lmsr_states(
    draw: st.DrawFn, min_n: int = 2, max_n: int = 6
) -> tuple[list[float], float]:
    """``(q, b)`` with ``|q_i / b|`` anywhere up to 1e6 (log-sum-exp territory)."""
    q, b = draw(lmsr_states(min_n, max_n, max_ratio=1e6))
    return q, b


@st.composite
def trade_vectors(draw: st.DrawFn, n: int, scale: float) -> list[float]:
    """A float trade vector of length ``n``, entries within ``±scale``, not all zero."""
    return draw(
        st.lists(
            st.floats(-scale, scale, allow_nan=False, allow_infinity=False),
            min_size=n,
            max_size=n,
        ).filter(lambda v: any(abs(x) > 0.0 for x in v))
    )


# --- market: integer books ----------------------------------------------------------------

b_micros = st.one_of(
    st.sampled_from([1, 1_000, 1_000_000, 100_000_000, 144_269_504]),
    st.integers(1, 10**12),
)
"""A liquidity in micro-units, from the degenerate 1 micro to a million units."""


@st.composite
def books(draw: st.DrawFn, min_n: int = 2, max_n: int = 6, extreme: bool = True) -> Book:
    """A `Book` whose shares outstanding lie within ±1000·b (or, if ``extreme``, anywhere
    in the hard bound, which reaches ``|q/b|`` of 1e6 and more)."""
    b = draw(b_micros)
    n = draw(st.integers(min_n, max_n))
    bound = min(MAX_SHARES_MICROS // 2, 1000 * b)
    if extreme and draw(st.booleans()):
        bound = MAX_SHARES_MICROS // 2
    q = draw(st.lists(st.integers(-bound, bound), min_size=n, max_size=n))
    return Book(tuple(q), b)


def share_amounts(book: Book) -> st.SearchStrategy[int]:
    """A positive number of micro-shares for one trade on ``book``: from 1 micro-share to
    20·b, with small amounts (where rounding dominates) over-represented."""
    top = max(1, min(MAX_SHARES_MICROS // 2, 20 * book.b_micros))
    return st.one_of(st.integers(1, 100), st.integers(1, top))


@st.composite
def int_trade_vectors(draw: st.DrawFn, book: Book) -> tuple[int, ...]:
    """A vector trade (buys and sells together) on ``book``, not all zero, within bounds."""
    top = max(1, min(MAX_SHARES_MICROS // 2, 20 * book.b_micros))
    delta = draw(
        st.lists(
            st.one_of(st.just(0), st.integers(-top, top)), min_size=book.n, max_size=book.n
        ).filter(lambda v: any(v))
    )
    return tuple(delta)


@st.composite
def trade_sequences(
    draw: st.DrawFn, n: int, b: int, min_size: int = 1, max_size: int = 40
) -> list[tuple[int, int]]:
    """Steps ``(outcome, signed micro-shares)``; sells are later clipped to what is held."""
    top = 20 * b
    step = st.tuples(
        st.integers(0, n - 1),
        st.one_of(st.integers(-100, 100), st.integers(-top, top)).filter(lambda s: s != 0),
    )
    return draw(st.lists(step, min_size=min_size, max_size=max_size))


# --- market: welfare assets ---------------------------------------------------------------


@st.composite
def price_vectors(draw: st.DrawFn, n: int) -> list[float]:
    """``n`` positive prices summing to 1 (probabilities)."""
    raw = draw(st.lists(st.floats(1e-6, 1.0), min_size=n, max_size=n))
    total = sum(raw)
    return [x / total for x in raw]


@st.composite
def bin_edges(draw: st.DrawFn, min_bins: int = 2, max_bins: int = 12) -> tuple[float, ...]:
    """Strictly increasing, well-separated bin edges (welfare units)."""
    start = draw(st.floats(-1e6, 1e6))
    widths = draw(st.lists(st.floats(1e-3, 1e4), min_size=min_bins, max_size=max_bins))
    edges = [start]
    for w in widths:
        edges.append(edges[-1] + w)
    return tuple(edges)


welfare_values = st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False)
"""A measured welfare value W (welfare units)."""


# --- welfare: council ---------------------------------------------------------------------


@st.composite
def weighted_games(
    draw: st.DrawFn, min_n: int = 1, max_n: int = 7, max_weight: int = 12
) -> tuple[list[int], int]:
    """``(weights, quota)``: a small weighted game ``[q; w]`` with ``1 ≤ q ≤ Σw``, small
    enough to enumerate every coalition and ordering."""
    weights = draw(
        st.lists(st.integers(0, max_weight), min_size=min_n, max_size=max_n).filter(
            lambda w: sum(w) > 0
        )
    )
    quota = draw(st.integers(1, sum(weights)))
    return weights, quota


@st.composite
def delegation_graphs(
    draw: st.DrawFn, max_n: int = 9
) -> tuple[list[int], set[int], dict[int, int]]:
    """``(members, voters, delegations)``: members ``0..n-1``, some voters, and delegations
    between distinct members (chains, cycles and dead ends all occur)."""
    n = draw(st.integers(1, max_n))
    members = list(range(n))
    voters = set(draw(st.lists(st.sampled_from(members), max_size=n)))
    delegations: dict[int, int] = {}
    if n > 1:
        for m in members:
            if draw(st.booleans()):
                delegations[m] = draw(st.sampled_from([x for x in members if x != m]))
    return members, voters, delegations


# --- market: decision rule ----------------------------------------------------------------

exploration_settings = st.one_of(
    st.just((0.0, "none")),
    st.tuples(st.floats(1e-3, 0.99), st.sampled_from(["ipw", "randomised_only"])),
)
"""``(epsilon, exploration_mode)`` pairs a `DecisionRule` accepts."""


@st.composite
def decision_rules(draw: st.DrawFn, max_intervals: int = 48):  # type: ignore[no-untyped-def]
    """A valid `market.decision.DecisionRule`: ``1 … max_intervals`` whole intervals of 1 s
    to 2 h, a cap from 1e-4 to 10 and a threshold from 0 to 1 (welfare units)."""
    interval = draw(st.one_of(st.sampled_from([1, 60, 900, 3600]), st.integers(1, 7200)))
    n = draw(st.integers(1, max_intervals))
    cap = draw(st.one_of(st.sampled_from([0.01, 0.25, 1.0]), st.floats(1e-4, 10.0)))
    threshold = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    epsilon, mode = draw(exploration_settings)
    # mode is one of the literals in exploration_settings; mypy only sees a str
    return DecisionRule(n * interval, interval, cap, threshold, epsilon, mode)  # type: ignore[arg-type]


decision_times = st.sampled_from([1_700_000_000.0, 1_700_000_000.25, 0.0, 86_399.5, -3_600.0])
"""Decision times in seconds: a whole Unix time, a fractional one, the epoch, and others."""

path_values = st.one_of(
    st.floats(-5.0, 5.0, allow_nan=False),
    st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    st.floats(-1e6, 1e6, allow_nan=False),
)
"""Live expected welfare values (welfare units), ordinary ones and price spikes."""


@st.composite
def welfare_paths(  # type: ignore[no-untyped-def]
    draw: st.DrawFn, rule, max_changes: int = 30
) -> tuple[float, float, float, list[float], list[float]]:
    """``(opens_at, decides_at, initial, times, values)`` for ``rule``: the market opens up
    to two windows before the decision (or inside the window), and the live value changes
    at sorted times from the opening to one interval past the decision, many of them exactly
    on interval boundaries."""
    window, interval = rule.window_seconds, rule.interval_seconds
    decides_at = draw(decision_times)
    opens_at = decides_at - draw(st.integers(0, 2 * window + interval))
    initial = draw(path_values)
    span = decides_at + interval - opens_at
    on_boundary = st.integers(-1, int((decides_at - opens_at) // interval)).map(
        lambda j: decides_at - j * interval
    )
    anywhere = st.floats(0.0, span).map(lambda x: opens_at + x)
    times = sorted(
        draw(st.lists(st.one_of(on_boundary, anywhere), max_size=max_changes)),
    )
    values = draw(st.lists(path_values, min_size=len(times), max_size=len(times)))
    return opens_at, decides_at, initial, times, values
