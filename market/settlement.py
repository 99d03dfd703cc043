"""Settlement arithmetic: what each trader and the sponsor are paid, exactly (pure).

A proposal locks ``collateral = F + Σ_i D_i`` of unconditional cash, where ``F`` is the
sponsor's subsidy and ``D_i`` trader ``i``'s deposit (splits − merges). In every branch
the traders' conditional cash plus the maker's cash equals that collateral. Once the
decision has executed branch ``e``, with measured welfare ``W`` paying ``π_k`` micro-units
per whole share of outcome ``k`` (`market.assets`):

- trader ``i``'s value in ``e`` is ``V_i = c_i + Σ_k ⌊s_ik · π_k / 1e6⌋`` (its conditional
  cash ``c_i`` in ``e`` redeems 1:1, its shares pay, rounded down); every other branch is
  void;
- **settled** (no exploration, or a ``randomised_only`` draw that explored): ``P_i = V_i``;
- **ipw** (Chen, Kash, Ruberry, Shnayder): the net profit ``V_i − D_i`` is scaled by
  ``1/d_e``, the probability with which ``e`` was drawn: ``P_i = D_i + ⌊(V_i − D_i)/d_e⌋``,
  floored (in the maker's favour for gains and losses alike) and never below 0 (the
  trade-time margin makes that bound slack; if it binds the shortfall stays with the
  sponsor's pot, see below);
- **unwound** (the council declared the proposal unmeasurable, or a ``randomised_only``
  draw did not explore): ``P_i = max(0, D_i)``, exactly what the trader put in (a trader
  who already merged out more than it split in, having won cash in every branch, keeps
  that and gets nothing more; the sponsor's pot bears the difference);
- the sponsor is paid what is left: ``P_sponsor = collateral − Σ_i P_i``.

Invariants (tested against exact rationals): everything is an integer of micro-units;
``Σ_i P_i + P_sponsor = collateral`` (nothing created or lost); ``P_sponsor ≥ 0`` whenever
the maker kept the LMSR bound (``F − maker loss ≥ 0``; under ipw ``b = F·d_min/ln n`` keeps
the scaled loss within ``F``), otherwise `SettlementShortfall` is raised and nothing is
paid.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from market.assets import payout_of_position
from market.errors import InvalidMarketInput, SettlementShortfall


class Outcome(enum.StrEnum):
    """How a proposal ends."""

    SETTLED = "settled"
    UNWOUND = "unwound"


@dataclass(frozen=True)
class TraderState:
    """What one trader holds in the proposal at settlement.

    Attributes:
        account_id: the trader.
        deposit_micros: ``D_i``, splits − merges into this proposal, micro-units (negative
            when the trader merged out winnings it made in every branch).
        branch_cash_micros: ``c_i``, conditional cash in the executed branch, ``≥ 0``.
        shares_micros: shares of each outcome of the executed branch's market, ``≥ 0``.
    """

    account_id: int
    deposit_micros: int
    branch_cash_micros: int
    shares_micros: tuple[int, ...]


@dataclass(frozen=True)
class Payout:
    """One trader's settlement: what it put in and what it is paid (micro-units)."""

    account_id: int
    deposit_micros: int
    value_micros: int
    paid_micros: int

    @property
    def profit_micros(self) -> int:
        """``paid − deposit``: the trader's net result on the proposal."""
        return self.paid_micros - self.deposit_micros


@dataclass(frozen=True)
class SettlementPlan:
    """Every payment of one settlement or unwind; ``total + sponsor = collateral``."""

    outcome: Outcome
    payouts: tuple[Payout, ...]
    sponsor_micros: int
    collateral_micros: int

    @property
    def traders_micros(self) -> int:
        """``Σ_i P_i``."""
        return sum(p.paid_micros for p in self.payouts)


def value_in_branch(trader: TraderState, per_share_micros: Sequence[int]) -> int:
    """``V_i = c_i + Σ_k ⌊s_ik · π_k / 1e6⌋`` micro-units."""
    if len(per_share_micros) != len(trader.shares_micros):
        raise InvalidMarketInput(
            f"expected {len(trader.shares_micros)} payouts per share, one per outcome, got "
            f"{len(per_share_micros)}"
        )
    paid = sum(
        payout_of_position(s, p)
        for s, p in zip(trader.shares_micros, per_share_micros, strict=True)
    )
    return trader.branch_cash_micros + paid


def ipw_paid(deposit_micros: int, value_micros: int, probability: Fraction) -> int:
    """``max(0, D + ⌊(V − D) / d⌋)``: net profit scaled by ``1/d``, floored.

    ``D`` may be negative (winnings merged out); the profit ``V − D`` then counts them."""
    if not 0 < probability <= 1:
        raise InvalidMarketInput(f"a branch probability must lie in (0, 1], got {probability}")
    scaled = Fraction(value_micros - deposit_micros) / probability
    return max(0, deposit_micros + math.floor(scaled))


def _plan(outcome: Outcome, payouts: list[Payout], collateral_micros: int) -> SettlementPlan:
    sponsor = collateral_micros - sum(p.paid_micros for p in payouts)
    if sponsor < 0:
        raise SettlementShortfall(
            f"the payouts ({collateral_micros - sponsor} micro-units) exceed the proposal's "
            f"collateral ({collateral_micros}); nothing was paid"
        )
    return SettlementPlan(outcome, tuple(payouts), sponsor, collateral_micros)


def settle(
    traders: Sequence[TraderState],
    per_share_micros: Sequence[int],
    collateral_micros: int,
    *,
    probability: Fraction | None = None,
) -> SettlementPlan:
    """Pay every trader its value in the executed branch (scaled for ipw); the sponsor
    the rest.

    Args:
        traders: every trader with a deposit, cash or shares in the proposal.
        per_share_micros: ``π_k`` of the executed branch's asset at the measured ``W``.
        collateral_micros: ``F + Σ D_i``.
        probability: ``d_e`` under ipw exploration (as an exact fraction of the stored
            float); None without it.

    Raises:
        SettlementShortfall: the payouts would exceed the collateral.
    """
    payouts = []
    for trader in traders:
        value = value_in_branch(trader, per_share_micros)
        paid = value if probability is None else ipw_paid(trader.deposit_micros, value, probability)
        payouts.append(Payout(trader.account_id, trader.deposit_micros, value, paid))
    return _plan(Outcome.SETTLED, payouts, collateral_micros)


def unwind(traders: Sequence[TraderState], collateral_micros: int) -> SettlementPlan:
    """Give every trader back its deposit ``max(0, D_i)``; the sponsor gets the rest
    (``F`` when no deposit is negative)."""
    payouts = []
    for t in traders:
        back = max(0, t.deposit_micros)
        payouts.append(Payout(t.account_id, t.deposit_micros, back, back))
    return _plan(Outcome.UNWOUND, payouts, collateral_micros)
