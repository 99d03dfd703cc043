"""A branch market's own terms and averaging state, as pure functions (no database).

The services (`market.proposals`, `market.trading`, `market.deciding`) and the audit
verifier (`market.audit_replay`) call these same functions, so a replayed market moves
exactly as the stored one did, bit for bit:

- `asset_of`: the welfare asset a proposal's markets trade (LONG/SHORT on ``[lo, hi]`` or
  bins), which reads prices into expected welfare and a measured ``W`` into payouts;
- `liquidity_micros`: ``b = ⌊F / ln n⌋`` micro-units, or ``⌊⌊F · d_min⌋ / ln n⌋`` under ipw
  exploration (``d_min = ε / (K + 1)``), so the maker's (scaled) worst case stays within
  ``F``;
- `opening_state`: the averaging state a market opens with, at the uniform prices' welfare;
- `live_welfare`: the expected welfare a book's prices imply now;
- `advance_market`: the averaging state moved to a time with the value then in force (a
  trade, a crank, the decision); `after_trade` is that step for one trade.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from market.assets import Asset, BinnedAsset, ScalarAsset
from market.book import Book, format_micros
from market.decision import DecisionRule, TwapState, advance, initial_state
from market.errors import InvalidMarketInput, InvalidProposal

BINNED = "binned"
"""The ``asset_kind`` of a binned (distribution) asset; anything else is scalar."""


def asset_of(asset_kind: str, lo: float, hi: float, bin_edges: Sequence[float] | None) -> Asset:
    """The welfare asset a proposal's markets trade (reads prices into expected welfare)."""
    if asset_kind == BINNED and bin_edges is not None:
        return BinnedAsset(tuple(float(e) for e in bin_edges))
    return ScalarAsset(lo, hi)


def liquidity_micros(n_outcomes: int, n_branches: int, subsidy: int, rule: DecisionRule) -> int:
    """``b = ⌊F / ln n⌋``, or ``⌊⌊F · d_min⌋ / ln n⌋`` with ipw exploration, micro-units.

    ``d_min = ε / (K + 1)`` is the least probability with which a branch is executed; the
    ipw payout scales the executed branch's profits and losses by ``1 / d ≤ 1 / d_min``, so
    the maker's scaled worst case ``b ln n / d_min`` stays within ``F``.

    Raises:
        InvalidProposal: the (discounted) subsidy is too small to give ``b ≥ 1`` micro-unit.
    """
    funded = subsidy
    if rule.exploration_mode == "ipw":
        d_min = Fraction(rule.epsilon) / n_branches
        funded = math.floor(subsidy * d_min)
        if funded < 1:
            raise InvalidProposal(
                f"the subsidy {format_micros(subsidy)} is too small for ipw exploration: "
                f"liquidity is funded by F · ε / (K + 1) = {format_micros(funded)}"
            )
    try:
        return Book.from_subsidy(n_outcomes, funded).b_micros
    except InvalidMarketInput as exc:
        raise InvalidProposal(str(exc).rstrip(".")) from None


def opening_state(
    rule: DecisionRule, asset: Asset, opens_at: float, decides_at: float
) -> TwapState:
    """The averaging state of a market opening at ``opens_at`` (seconds) with ``q = 0``:
    `market.decision.initial_state` at the welfare of the uniform prices ``1/n``."""
    n = len(asset.outcomes)
    return initial_state(rule, opens_at, decides_at, asset.expected_welfare([1.0 / n] * n))


def live_welfare(asset: Asset, q_micros: Sequence[int], b_micros: int) -> float:
    """The expected welfare a market's prices imply now (welfare units)."""
    return asset.expected_welfare(Book(tuple(int(x) for x in q_micros), int(b_micros)).prices())


def state_of(row: Any) -> TwapState | None:
    """The averaging state stored on a market row (ORM object or Core row), or None."""
    values = (
        row.twap_observation,
        row.twap_observed_at,
        row.twap_cum_weighted,
        row.twap_window_start,
        row.twap_last_live,
    )
    if any(v is None for v in values):
        return None
    return TwapState(*(float(v) for v in values))


def advance_market(
    rule: DecisionRule,
    decides_at: float,
    state: TwapState | None,
    now: float,
    live_before: float,
    live_after: float,
) -> TwapState:
    """A market's averaging state moved to ``now``, with ``live_after`` in force from then.

    A null state starts at ``now`` with ``live_before`` (`market.decision.initial_state`
    opening at ``min(now, T)``: the value then in force counts back to the window start).
    ``now`` earlier than the last update (clocks of two workers differ by a little) is
    taken as the last update: time never runs backwards in the state.

    Args:
        rule: the proposal's decision rule.
        decides_at: ``T``, seconds.
        state: the stored state, or None.
        now: seconds.
        live_before, live_after: welfare units; the live value before and after the update.
    """
    if state is None:
        state = initial_state(rule, min(now, decides_at), decides_at, live_before)
    return advance(state, rule, max(now, state.observed_at), live_after)


def after_trade(
    rule: DecisionRule,
    decides_at: float,
    asset: Asset,
    state: TwapState | None,
    now: float,
    prices_before: Sequence[float],
    prices_after: Sequence[float],
) -> TwapState:
    """The averaging state after a trade at ``now`` (seconds) that moved the prices from
    ``prices_before`` to ``prices_after``: `advance_market` with the welfare after the trade
    (a null state starts with the welfare before it)."""
    after = asset.expected_welfare(prices_after)
    before = after if state is not None else asset.expected_welfare(prices_before)
    return advance_market(rule, decides_at, state, now, before, after)


def twap_list(state: TwapState | None) -> list[float] | None:
    """The five numbers of an averaging state, in `TwapState` order (for an audit event)."""
    if state is None:
        return None
    return [
        state.observation,
        state.observed_at,
        state.cum_weighted,
        state.window_start,
        state.last_live,
    ]
