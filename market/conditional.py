"""Conditional cash: one trader's holdings in one proposal, as a pure frozen value.

A proposal has K alternatives plus the status quo: ``K + 1`` branches, each with its own
LMSR market. A trader's unconditional cash can be *split*: ``a`` cash becomes ``a`` of
conditional cash in EVERY branch (cash-if-branch-j); *merge* reverses it, taking ``a``
from every branch. Trades in branch ``j`` pay with, and are paid in, branch ``j``'s
conditional cash. At settlement the executed branch's conditional cash redeems 1:1 and its
shares pay out; every other branch is void.

Invariants (all amounts integer micro-units, shares integer micro-shares):

- nothing is ever negative: cash, every branch's cash, every share count;
- split and merge conserve value: ``cash + min_j branch_cash_j`` is unchanged by either;
- every refusal raises before a new value exists (the values are frozen), so nothing is
  ever half-applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from market.assets import payout_of_position
from market.book import Quote, format_micros
from market.errors import InsufficientFunds, InsufficientShares, InvalidMarketInput


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_amount(amount: object, what: str) -> int:
    if not _is_int(amount):
        raise InvalidMarketInput(
            f"The {what} must be a whole number of micro-units, got {amount!r}."
        )
    if amount <= 0:
        raise InvalidMarketInput(f"The {what} must be positive, got {format_micros(amount)}.")
    return amount


@dataclass(frozen=True)
class Holdings:
    """One trader's holdings in one proposal.

    Attributes:
        cash_micros: unconditional cash, micro-units, ``≥ 0``.
        branch_cash_micros: conditional cash per branch (K alternatives + status quo),
            micro-units, each ``≥ 0``; at least two branches.
        shares_micros: per branch, shares held per outcome, micro-shares, each ``≥ 0``;
            one row per branch.
    """

    cash_micros: int
    branch_cash_micros: tuple[int, ...]
    shares_micros: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if not _is_int(self.cash_micros) or self.cash_micros < 0:
            raise InvalidMarketInput(
                f"Cash must be a non-negative integer of micro-units, got {self.cash_micros!r}."
            )
        branches = tuple(self.branch_cash_micros)
        if len(branches) < 2:
            raise InvalidMarketInput(
                "A proposal has at least two branches (an alternative and the status quo), "
                f"got {len(branches)}."
            )
        for c in branches:
            if not _is_int(c) or c < 0:
                raise InvalidMarketInput(
                    f"Branch cash must be non-negative integers of micro-units, got {c!r}."
                )
        rows = tuple(tuple(row) for row in self.shares_micros)
        if len(rows) != len(branches):
            raise InvalidMarketInput(
                f"Expected one row of shares per branch ({len(branches)}), got {len(rows)}."
            )
        for row in rows:
            for s in row:
                if not _is_int(s) or s < 0:
                    raise InvalidMarketInput(
                        f"Shares held must be non-negative integers of micro-shares, got {s!r}."
                    )
        object.__setattr__(self, "branch_cash_micros", branches)
        object.__setattr__(self, "shares_micros", rows)

    @classmethod
    def empty(cls, branches: int, outcomes: int, cash_micros: int = 0) -> Holdings:
        """Holdings with only unconditional cash, for a proposal of ``branches`` markets of
        ``outcomes`` outcomes each."""
        if not _is_int(branches) or not _is_int(outcomes) or outcomes < 2:
            raise InvalidMarketInput(
                "Give the number of branches and of outcomes per branch (at least 2) as integers."
            )
        return cls(cash_micros, (0,) * branches, ((0,) * outcomes,) * branches)

    @property
    def branches(self) -> int:
        """Number of branches (K alternatives + status quo)."""
        return len(self.branch_cash_micros)

    def _check_branch(self, branch: object) -> int:
        if not _is_int(branch) or not 0 <= branch < self.branches:
            raise InvalidMarketInput(
                f"Branch {branch!r} does not exist: this proposal has branches "
                f"0 to {self.branches - 1}."
            )
        return branch

    def deposit(self, amount_micros: int) -> Holdings:
        """Add unconditional cash (micro-units, > 0)."""
        amount = _check_amount(amount_micros, "deposit")
        return Holdings(self.cash_micros + amount, self.branch_cash_micros, self.shares_micros)

    def withdraw(self, amount_micros: int) -> Holdings:
        """Remove unconditional cash (micro-units, > 0).

        Raises:
            InsufficientFunds: less cash than the amount.
        """
        amount = _check_amount(amount_micros, "withdrawal")
        if amount > self.cash_micros:
            raise InsufficientFunds(
                f"Cannot withdraw {format_micros(amount)}: only "
                f"{format_micros(self.cash_micros)} of cash is available."
            )
        return Holdings(self.cash_micros - amount, self.branch_cash_micros, self.shares_micros)

    def split(self, amount_micros: int) -> Holdings:
        """Turn ``a`` cash into ``a`` conditional cash in EVERY branch.

        ``cash −= a``; ``branch_cash_j += a`` for every branch ``j``.

        Raises:
            InsufficientFunds: less unconditional cash than ``a``.
        """
        amount = _check_amount(amount_micros, "amount to split")
        if amount > self.cash_micros:
            raise InsufficientFunds(
                f"Cannot split {format_micros(amount)}: only "
                f"{format_micros(self.cash_micros)} of cash is available."
            )
        return Holdings(
            self.cash_micros - amount,
            tuple(c + amount for c in self.branch_cash_micros),
            self.shares_micros,
        )

    def merge(self, amount_micros: int) -> Holdings:
        """Turn ``a`` conditional cash from EVERY branch back into ``a`` cash.

        ``branch_cash_j −= a`` for every branch ``j``; ``cash += a``.

        Raises:
            InsufficientFunds: some branch holds less than ``a`` (names the first one).
        """
        amount = _check_amount(amount_micros, "amount to merge")
        for j, c in enumerate(self.branch_cash_micros):
            if c < amount:
                raise InsufficientFunds(
                    f"Cannot merge {format_micros(amount)}: branch {j} holds only "
                    f"{format_micros(c)} of conditional cash (merging needs the amount in "
                    "every branch)."
                )
        return Holdings(
            self.cash_micros + amount,
            tuple(c - amount for c in self.branch_cash_micros),
            self.shares_micros,
        )

    def mergeable_micros(self) -> int:
        """The most that `merge` accepts now: ``min_j branch_cash_j``."""
        return min(self.branch_cash_micros)

    def apply_trade(self, branch: int, quote: Quote) -> Holdings:
        """Holdings after a trade in one branch's market.

        ``branch_cash −= quote.cash_micros``; ``shares[branch] += quote.delta_micros``.

        Raises:
            InvalidMarketInput: no such branch, or the quote's outcomes do not match.
            InsufficientFunds: the branch's conditional cash would go below zero.
            InsufficientShares: the trade sells shares not held.
        """
        j = self._check_branch(branch)
        held = self.shares_micros[j]
        delta = quote.delta_micros
        if len(delta) != len(held):
            raise InvalidMarketInput(
                f"The quote trades {len(delta)} outcomes but branch {j} has {len(held)}."
            )
        cash_after = self.branch_cash_micros[j] - quote.cash_micros
        if cash_after < 0:
            raise InsufficientFunds(
                f"This trade costs {format_micros(quote.cash_micros)} but branch {j} holds only "
                f"{format_micros(self.branch_cash_micros[j])} of conditional cash; split more "
                "cash into the branches first."
            )
        shares_after = tuple(h + d for h, d in zip(held, delta, strict=True))
        for i, s in enumerate(shares_after):
            if s < 0:
                raise InsufficientShares(
                    f"Cannot sell {format_micros(-delta[i])} shares of outcome {i} in branch "
                    f"{j}: only {format_micros(held[i])} are held."
                )
        branch_cash = list(self.branch_cash_micros)
        branch_cash[j] = cash_after
        rows = list(self.shares_micros)
        rows[j] = shares_after
        return Holdings(self.cash_micros, tuple(branch_cash), tuple(rows))

    def settlement_micros(self, executed_branch: int, payout_per_share: Sequence[int]) -> int:
        """Cash due at settlement, micro-units: the executed branch's conditional cash plus
        ``Σ_i ⌊shares_i · payout_i / 1e6⌋`` of its shares; every other branch is void.

        Args:
            executed_branch: the branch the decision executed.
            payout_per_share: micro-units per whole share of each outcome, from the asset's
                ``payout_micros(W)``.

        Raises:
            InvalidMarketInput: no such branch or a payout vector of the wrong length.
        """
        j = self._check_branch(executed_branch)
        held = self.shares_micros[j]
        if len(payout_per_share) != len(held):
            raise InvalidMarketInput(
                f"Expected {len(held)} payouts per share, one per outcome, "
                f"got {len(payout_per_share)}."
            )
        paid = sum(payout_of_position(s, p) for s, p in zip(held, payout_per_share, strict=True))
        return self.branch_cash_micros[j] + paid
